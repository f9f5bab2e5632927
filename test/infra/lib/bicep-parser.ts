/**
 * Parses Bicep with the tree-sitter grammar from npm `tree-sitter-bicep`, loaded by
 * `web-tree-sitter`. No Bicep CLI exists offline, so this is how the tests see the templates.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Language, Parser, type Node, type Tree } from "web-tree-sitter";

export type { Node, Tree };

/** A syntax problem with a 1-based line and column, as editors show them. */
export interface SyntaxProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

let parserPromise: Promise<Parser> | undefined;

/**
 * The shared parser, created on first use.
 * @throws Error when the grammar's ABI is not one this web-tree-sitter supports; the message says which versions work.
 */
export function bicepParser(): Promise<Parser> {
  parserPromise ??= createParser();
  return parserPromise;
}

async function createParser(): Promise<Parser> {
  const require = createRequire(import.meta.url);
  const wasmPath = require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm");
  await Parser.init();
  let language: Language;
  try {
    language = await Language.load(wasmPath);
  } catch (error) {
    throw new Error(
      `web-tree-sitter could not load ${wasmPath} (${(error as Error).message}). ` +
        "The grammar's ABI must be within the range this web-tree-sitter supports (0.25+ loads ABI 13-15; tree-sitter-bicep 1.1.0 is ABI 14).",
    );
  }
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

/**
 * Parses Bicep source.
 * @throws Error when tree-sitter returns no tree (it gives up only on cancellation or timeouts).
 */
export async function parseBicep(source: string): Promise<Tree> {
  const parser = await bicepParser();
  const tree = parser.parse(source);
  if (!tree) throw new Error("tree-sitter returned no tree for the Bicep source");
  return tree;
}

/**
 * Every ERROR and MISSING node (one per outermost error node) and every single-quoted string that
 * spans lines, as file:line:column problems.
 */
export function syntaxProblems(tree: Tree, file: string, source: string): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const lines = source.split("\n");
  const visit = (node: Node): void => {
    if (node.isMissing || node.type === "ERROR") {
      const { row, column } = node.startPosition;
      const text = (lines[row] ?? "").trim();
      const message = node.isMissing
        ? `missing ${node.type} (the grammar expected it here): ${text}`
        : `syntax error near \`${node.text.split("\n")[0]?.slice(0, 60) ?? ""}\`: ${text}`;
      problems.push({ file, line: row + 1, column: column + 1, message });
      return;
    }
    // The grammar lets a '...' string run over several lines; Bicep does not (only ''' strings may).
    if (node.type === "string" && node.startPosition.row !== node.endPosition.row && !node.text.startsWith("'''")) {
      const { row, column } = node.startPosition;
      problems.push({
        file,
        line: row + 1,
        column: column + 1,
        message: `string not closed on its line (Bicep strings cannot span lines; use ''' for multi-line text): ${(lines[row] ?? "").trim()}`,
      });
    }
    for (const child of node.children) if (child) visit(child);
  };
  visit(tree.rootNode);
  return problems;
}

/**
 * Reads and parses one file and lists its syntax problems.
 * @throws Error when the file cannot be read.
 */
export async function checkBicepFile(file: string): Promise<SyntaxProblem[]> {
  const source = await readFile(file, "utf8");
  const tree = await parseBicep(source);
  return syntaxProblems(tree, file, source);
}

/** Formats a problem the way compilers do, so editors can jump to it. */
export function formatProblem(problem: SyntaxProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`;
}

/**
 * Issue item 9: every .bicep file parses with the tree-sitter Bicep grammar, and the checker
 * really reports broken Bicep with file, line and column.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkBicepFile, formatProblem, parseBicep, syntaxProblems } from "./lib/bicep-parser.js";

const infraDir = path.resolve(import.meta.dirname, "../../infra");

async function bicepFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".bicep"))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

describe("Bicep syntax", () => {
  it("finds the templates (main.bicep and the modules)", async () => {
    const files = (await bicepFiles(infraDir)).map((file) => path.relative(infraDir, file));
    expect(files).toContain("main.bicep");
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it("parses every .bicep file under infra/ without ERROR or MISSING nodes", async () => {
    const problems = [];
    for (const file of await bicepFiles(infraDir)) {
      problems.push(...(await checkBicepFile(file)));
    }
    expect(problems.map(formatProblem)).toEqual([]);
  });

  it("reports a missing closing brace with its file, line and column", async () => {
    const source = "param name string\n\nvar settings = {\n  a: name\n\noutput o string = name\n";
    const problems = syntaxProblems(await parseBicep(source), "broken.bicep", source);
    expect(problems.length).toBeGreaterThan(0);
    expect(formatProblem(problems[0]!)).toMatch(/^broken\.bicep:\d+:\d+: /);
  });

  it("reports an unterminated string on the line where it is", async () => {
    const source = "param a string = 'ok'\nparam b string = 'not closed\nparam c int = 1\n";
    const problems = syntaxProblems(await parseBicep(source), "strings.bicep", source);
    expect(problems.map((p) => p.line)).toContain(2);
  });

  it("fails on a real module once a line of it is broken", async () => {
    const { readFile } = await import("node:fs/promises");
    const file = path.join(infraDir, "app/storage.bicep");
    const lines = (await readFile(file, "utf8")).split("\n");
    const target = lines.findIndex((line) => line.includes("allowSharedKeyAccess"));
    expect(target).toBeGreaterThan(0);
    lines[target] = "    allowSharedKeyAccess: = false";
    const broken = lines.join("\n");
    const problems = syntaxProblems(await parseBicep(broken), "storage.bicep", broken);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]!.line).toBe(target + 1);
  });
});

describe("Bicep syntax: strings the grammar tolerates but Bicep rejects", () => {
  it("reports a single-quoted string that is closed on a later line, even when the tree has no ERROR", async () => {
    const source = "param a string = 'first\nsecond'\noutput o string = a\n";
    const tree = await parseBicep(source);
    expect(tree.rootNode.hasError).toBe(false);
    const problems = syntaxProblems(tree, "multiline.bicep", source);
    expect(problems.map(formatProblem)).toEqual([expect.stringMatching(/^multiline\.bicep:1:18: string not closed on its line/)]);
  });

  it("accepts ''' multi-line strings", async () => {
    const source = "var text = '''\nline one\nline two\n'''\n";
    expect(syntaxProblems(await parseBicep(source), "ok.bicep", source)).toEqual([]);
  });
});

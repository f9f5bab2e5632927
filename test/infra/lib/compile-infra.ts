/**
 * Compiles and lints an infra/ folder (the real one or a mutated copy) with the real Bicep CLI,
 * and evaluates it for a set of parameter values with the CLI's deployment engine.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { formatDiagnostic, runBicep, snapshot, type Diagnostic, type Snapshot } from "./bicep-cli.js";

export interface Compilation {
  /** Exit code of `bicep build main.bicep`. */
  buildExitCode: number;
  /** The ARM template it produced (undefined when the build failed). */
  template: ArmTemplate | undefined;
  /** Every diagnostic of `bicep build main.bicep` and `bicep lint` over every .bicep file, deduplicated. */
  diagnostics: Diagnostic[];
}

export interface ArmTemplate {
  parameters: Record<string, { type: string; defaultValue?: unknown; allowedValues?: unknown[] }>;
  [key: string]: unknown;
}

/** Builds main.bicep and lints every .bicep file under `infraDir`. */
export async function compileInfra(bicep: string, infraDir: string): Promise<Compilation> {
  const outDir = mkdtempSync(path.join(tmpdir(), "bicep-build-"));
  try {
    const build = await runBicep(bicep, ["build", path.join(infraDir, "main.bicep"), "--outdir", outDir]);
    const lint = await runBicep(bicep, ["lint", "--pattern", path.join(infraDir, "**", "*.bicep")]);
    const template = build.exitCode === 0 ? (JSON.parse(readFileSync(path.join(outDir, "main.json"), "utf8")) as ArmTemplate) : undefined;
    const seen = new Set<string>();
    const diagnostics = [...build.diagnostics, ...lint.diagnostics].filter((d) => {
      const key = `${d.file}:${d.line}:${d.column}:${d.code}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return { buildExitCode: build.exitCode, template, diagnostics };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** A warning the templates keep on purpose, as infra/README.md lists it. */
export interface KeptWarning {
  code: string;
  /** Relative to infra/. */
  file: string;
}

/**
 * The kept warnings: rows `| CODE | file.bicep | why |` of the table under the heading
 * "Compiler warnings we keep" in infra/README.md.
 * @throws Error when the section is missing.
 */
export function keptWarnings(readme: string): KeptWarning[] {
  const section = /^## Compiler warnings we keep\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme);
  if (!section) throw new Error("infra/README.md has no '## Compiler warnings we keep' section");
  return [...section[1]!.matchAll(/^\| `?([A-Za-z0-9-]+)`? \| `?([\w./-]+\.bicep)`? \|/gm)].map((m) => ({ code: m[1]!, file: m[2]! }));
}

/** Errors, and warnings not listed as kept, each as one line naming file, line and code. */
export function unexpectedDiagnostics(compilation: Compilation, infraDir: string, kept: readonly KeptWarning[]): string[] {
  return compilation.diagnostics
    .filter(
      (d) =>
        d.level === "Error" ||
        (d.level === "Warning" && !kept.some((k) => k.code === d.code && path.resolve(infraDir, k.file) === path.resolve(d.file))),
    )
    .map((d) => formatDiagnostic(d, infraDir));
}

/** Kept warnings the compiler no longer reports: the README would list a reason for nothing. */
export function staleKeptWarnings(compilation: Compilation, infraDir: string, kept: readonly KeptWarning[]): string[] {
  return kept
    .filter((k) => !compilation.diagnostics.some((d) => d.code === k.code && path.resolve(infraDir, k.file) === path.resolve(d.file)))
    .map((k) => `${k.code} in ${k.file} is listed in infra/README.md but the compiler no longer reports it`);
}

/** Renders a value as a Bicep literal for a .bicepparam file. */
function bicepLiteral(value: unknown): string {
  if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return `[\n${value.map((item) => `  ${bicepLiteral(item)}`).join("\n")}\n]`;
  if (typeof value === "object")
    return `{\n${Object.entries(value)
      .map(([key, item]) => `  ${key}: ${bicepLiteral(item)}`)
      .join("\n")}\n}`;
  throw new Error(`cannot write ${typeof value} as Bicep`);
}

/**
 * Evaluates main.bicep in `infraDir` with `params` (as azd would pass them) through `bicep snapshot`.
 * The .bicepparam file is written beside infraDir, because `using` takes only relative paths.
 */
export async function evaluateInfra(
  bicep: string,
  infraDir: string,
  params: Record<string, unknown>,
  location = "eastus2",
): Promise<Snapshot> {
  const dir = path.join(path.dirname(infraDir), `params-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  try {
    const file = path.join(dir, "settings.bicepparam");
    const relative = path.relative(dir, path.join(infraDir, "main.bicep")).split(path.sep).join("/");
    const lines = [`using '${relative}'`, ...Object.entries(params).map(([name, value]) => `param ${name} = ${bicepLiteral(value)}`)];
    writeFileSync(file, `${lines.join("\n")}\n`);
    return await snapshot(bicep, file, { location });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The real Bicep CLI, for the tests that compile, lint and evaluate infra/. Found on PATH, in
 * BICEP_PATH, or where `az bicep install` (~/.azure/bin) and azd (~/.azd/bin) put it.
 * `.ci/install-bicep` brings it from NuGet; CI sets BICEP_REQUIRED=1 so a missing compiler fails
 * the run instead of skipping.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface BicepLocation {
  /** The executable, or undefined when none was found. */
  path: string | undefined;
  /** Where it was looked for, for the skip message. */
  searched: string[];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks for the Bicep CLI as `az` and `azd` would, without running anything. */
export function findBicep(env: NodeJS.ProcessEnv = process.env): BicepLocation {
  const executable = process.platform === "win32" ? "bicep.exe" : "bicep";
  const candidates = [
    ...(env.BICEP_PATH ? [env.BICEP_PATH] : []),
    ...(env.PATH ?? "")
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, executable)),
    path.join(homedir(), ".azure", "bin", executable),
    path.join(env.AZD_CONFIG_DIR ?? path.join(homedir(), ".azd"), "bin", executable),
  ];
  return { path: candidates.find(isExecutable), searched: candidates };
}

/** True when a missing compiler must fail the run (CI), not skip its tests. */
export function bicepRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.BICEP_REQUIRED === "1" || env.BICEP_REQUIRED === "true";
}

/** What a developer sees when the compiler tests are skipped. */
export function skipMessage(location: BicepLocation): string {
  return [
    "Skipped the Bicep compiler tests: no Bicep CLI found.",
    "Install it with `az bicep install` (or `bash .ci/install-bicep`, which takes it from NuGet), or set BICEP_PATH.",
    `Looked in: BICEP_PATH, PATH, ~/.azure/bin and ~/.azd/bin (${location.searched.length} places).`,
  ].join(" ");
}

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  level: "Error" | "Warning" | "Info";
  code: string;
  message: string;
}

const DIAGNOSTIC = /^(.+?)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*?)(?: \[https:\/\/[^\]]+\])?$/;

/** Parses the CLI's `file(line,col) : Level CODE: message [link]` lines; other lines are ignored. */
export function parseDiagnostics(output: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = DIAGNOSTIC.exec(line.trim());
    if (!match) continue;
    const [, file, row, column, level, code, message] = match;
    diagnostics.push({
      file: file!,
      line: Number(row),
      column: Number(column),
      level: level as Diagnostic["level"],
      code: code!,
      message: message!,
    });
  }
  return diagnostics;
}

/** One line per diagnostic, with the file relative to `root`, for test failure messages. */
export function formatDiagnostic(diagnostic: Diagnostic, root: string): string {
  return `${path.relative(root, diagnostic.file)}:${diagnostic.line}:${diagnostic.column} ${diagnostic.level} ${diagnostic.code}: ${diagnostic.message}`;
}

export interface BicepRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  diagnostics: Diagnostic[];
}

/**
 * Runs the CLI with `args`. The compiler reaches no network for local files; its telemetry and
 * the .NET host's are switched off anyway.
 */
export async function runBicep(bicep: string, args: string[], cwd?: string): Promise<BicepRun> {
  const env = { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", BICEP_TRACING_ENABLED: "false" };
  try {
    const { stdout, stderr } = await run(bicep, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return { exitCode: 0, stdout, stderr, diagnostics: parseDiagnostics(stderr) };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") throw error;
    const stdout = failed.stdout ?? "";
    const stderr = failed.stderr ?? "";
    return { exitCode: failed.code, stdout, stderr, diagnostics: parseDiagnostics(stderr) };
  }
}

/** A resource the deployment engine predicts, as `bicep snapshot` writes it. */
export interface PredictedResource {
  type: string;
  name: string;
  id?: string;
  location?: string;
  kind?: string;
  sku?: { name?: string; capacity?: number; tier?: string };
  properties?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Snapshot {
  predictedResources: PredictedResource[];
  outputs?: Record<string, unknown>;
  diagnostics: unknown[];
}

export interface SnapshotOptions {
  subscriptionId?: string;
  tenantId?: string;
  location?: string;
}

/**
 * Evaluates a .bicepparam file with the deployment engine inside the CLI (`bicep snapshot`) and
 * returns the resources it predicts, with conditions, loops and expressions resolved.
 * @throws Error with the compiler's output when the snapshot fails.
 */
export async function snapshot(bicep: string, paramsFile: string, options: SnapshotOptions = {}): Promise<Snapshot> {
  const args = [
    "snapshot",
    paramsFile,
    "--mode",
    "overwrite",
    "--subscription-id",
    options.subscriptionId ?? "00000000-0000-4000-8000-000000000001",
    "--tenant-id",
    options.tenantId ?? "00000000-0000-4000-8000-000000000002",
    "--location",
    options.location ?? "eastus2",
  ];
  const result = await runBicep(bicep, args);
  if (result.exitCode !== 0) throw new Error(`bicep snapshot ${paramsFile} failed (${result.exitCode}):\n${result.stderr}${result.stdout}`);
  const output = paramsFile.replace(/\.bicepparam$/, ".snapshot.json");
  return JSON.parse(readFileSync(output, "utf8")) as Snapshot;
}

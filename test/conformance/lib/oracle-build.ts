/**
 * Builds the WebJobs oracle (test/conformance/oracle, a .NET console program) with the .NET SDK,
 * into a cache outside the checkout keyed by the sources' hash, so a second run reuses it and the
 * checkout gets no bin/ or obj/. Packages come from the NuGet feed `dotnet restore` is set up for.
 * When no .NET SDK is on PATH the comparison is skipped with a message; WEBJOBS_ORACLE_REQUIRED=1
 * (set by .ci/run) turns that into a failure.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const ORACLE_SOURCE_DIR = path.resolve(import.meta.dirname, "../oracle");

/** Telemetry and first-run chatter off: nothing the oracle's build or run starts may call out. */
export const DOTNET_QUIET_ENV = {
  DOTNET_CLI_TELEMETRY_OPTOUT: "1",
  DOTNET_NOLOGO: "1",
  DOTNET_SKIP_FIRST_TIME_EXPERIENCE: "1",
  DOTNET_GENERATE_ASPNET_CERTIFICATE: "false",
};

export interface DotnetProbe {
  /** The SDK version `dotnet --version` printed, or undefined when there is none. */
  version: string | undefined;
  reason: string;
}

/** Whether a .NET SDK is on PATH (`dotnet --version` answers). */
export function probeDotnet(env: NodeJS.ProcessEnv = process.env): DotnetProbe {
  const result = spawnSync("dotnet", ["--version"], { env: { ...env, ...DOTNET_QUIET_ENV }, encoding: "utf8", timeout: 60_000 });
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : `exit ${String(result.status)}: ${result.stderr.trim().slice(0, 300)}`;
    return { version: undefined, reason: `no .NET SDK on PATH (dotnet --version: ${why})` };
  }
  return { version: result.stdout.trim(), reason: "" };
}

export function oracleRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WEBJOBS_ORACLE_REQUIRED === "1" || env.WEBJOBS_ORACLE_REQUIRED === "true";
}

export function skipMessage(probe: DotnetProbe): string {
  return (
    `WebJobs conformance skipped: ${probe.reason}. The comparison of the local host with the real WebJobs SDK ` +
    `needs the .NET SDK (https://dot.net) and the NuGet packages test/conformance/oracle/WebJobsOracle.csproj names; ` +
    `CI runs it (WEBJOBS_ORACLE_REQUIRED=1).`
  );
}

/** The oracle's sources, hashed with the SDK's major version: the cache key. */
function sourceHash(sdkMajor: string): string {
  const hash = createHash("sha256").update(sdkMajor);
  for (const name of readdirSync(ORACLE_SOURCE_DIR).sort()) {
    if (!/\.(cs|csproj)$/.test(name)) continue;
    hash.update(name).update(readFileSync(path.join(ORACLE_SOURCE_DIR, name)));
  }
  return hash.digest("hex").slice(0, 16);
}

export interface OracleBuild {
  /** The built program, run as `dotnet <dll> '<options JSON>'`. */
  dll: string;
  /** False when an earlier build of the same sources was reused. */
  built: boolean;
  ms: number;
}

/**
 * Builds the oracle (restore + build, Release) unless the cache already holds this version.
 * @throws Error with the build's output when restore or build fails.
 */
export async function buildOracle(sdkVersion: string, env: NodeJS.ProcessEnv = process.env): Promise<OracleBuild> {
  const started = Date.now();
  const major = sdkVersion.split(".")[0] ?? "10";
  const cacheRoot =
    env.WEBJOBS_ORACLE_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "azure-openai-functions", "webjobs-oracle");
  const dir = path.join(cacheRoot, sourceHash(major));
  const dll = path.join(dir, "out", "WebJobsOracle.dll");
  if (existsSync(dll)) return { dll, built: false, ms: Date.now() - started };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "src"), { recursive: true });
  for (const name of readdirSync(ORACLE_SOURCE_DIR)) {
    if (/\.(cs|csproj)$/.test(name)) cpSync(path.join(ORACLE_SOURCE_DIR, name), path.join(dir, "src", name));
  }
  try {
    // The SDK on the machine decides the target framework, so no other targeting pack is needed.
    await run(
      "dotnet",
      ["build", path.join(dir, "src"), "-c", "Release", "-o", path.join(dir, "out"), `-p:TargetFramework=net${major}.0`],
      {
        env: { ...env, ...DOTNET_QUIET_ENV },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 15 * 60_000,
      },
    );
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    rmSync(dir, { recursive: true, force: true });
    const output = `${failed.stdout ?? ""}${failed.stderr ?? ""}`.split("\n").filter((line) => /error|warn/i.test(line));
    throw new Error(`Building the WebJobs oracle failed: ${failed.message}\n${output.slice(0, 40).join("\n")}`);
  }
  return { dll, built: true, ms: Date.now() - started };
}

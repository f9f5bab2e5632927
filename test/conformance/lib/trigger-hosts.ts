/**
 * The two hosts the scenarios run under, behind one interface: the real WebJobs SDK (the oracle,
 * a .NET process) and the project's local host running the fixture app. Each is started against
 * its own Azurite with the same settings and stopped gracefully before storage is read.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { startHost } from "../../../tools/local-host/index.js";
import { DOTNET_QUIET_ENV } from "./oracle-build.js";
import { CONFORMANCE_HOST_ID, hostJsonFor, type TriggerSettings } from "./settings.js";

export type Side = "webjobs-sdk" | "local-host";

export interface RunningTriggerHost {
  side: Side;
  /** The blob extension's Event Grid webhook (`/runtime/webhooks/blobs`). */
  webhookUrl: string;
  /** Graceful stop: running invocations finish, the process exits. */
  stop(): Promise<void>;
  /** What the host printed, for failure reports. */
  output(): string;
}

export interface StartOptions {
  connectionString: string;
  settings: TriggerSettings;
  /** One JSON line per invocation is appended here by the handlers. */
  invocationsFile: string;
}

const FIXTURE_APP = path.resolve(import.meta.dirname, "../fixtures/trigger-app");
/** The local host's container scan period: the SDK's is fixed at 10 s, which only slows a test down. */
const LOCAL_SCAN_INTERVAL_MS = 1_000;

export async function startLocalHost(options: StartOptions): Promise<RunningTriggerHost> {
  const dir = mkdtempSync(path.join(tmpdir(), "conformance-host-"));
  const hostJson = path.join(dir, "host.json");
  writeFileSync(hostJson, JSON.stringify(hostJsonFor(options.settings), null, 2));
  const lines: string[] = [];
  const host = await startHost({
    entry: "index.mjs",
    cwd: FIXTURE_APP,
    hostJson,
    port: 0,
    env: { AzureWebJobsStorage: options.connectionString, CONFORMANCE_INVOCATIONS_FILE: options.invocationsFile },
    blobScanIntervalMs: LOCAL_SCAN_INTERVAL_MS,
    hostId: CONFORMANCE_HOST_ID,
    onLog: (line) => keep(lines, line),
  });
  return {
    side: "local-host",
    webhookUrl: `${host.url}/runtime/webhooks/blobs`,
    stop: () => host.stop(),
    output: () => lines.join("\n"),
  };
}

/**
 * Starts the oracle (`dotnet WebJobsOracle.dll '<options>'`) and waits for its ready line.
 * @throws Error with its output when it exits or is not ready within 90 s.
 */
export async function startOracle(dll: string, options: StartOptions): Promise<RunningTriggerHost> {
  const webhookPort = await freePort();
  const config = {
    connectionString: options.connectionString,
    hostId: CONFORMANCE_HOST_ID,
    ...options.settings,
    invocationsFile: options.invocationsFile,
    webhookPort,
  };
  const child = spawn("dotnet", [dll, JSON.stringify(config)], {
    env: { ...process.env, ...DOTNET_QUIET_ENV },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        keep(lines, line);
        const match = /^ORACLE READY (\{.*\})/.exec(line);
        if (match) resolve((JSON.parse(match[1]!) as { webhook: string }).webhook);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then((code) =>
      reject(new Error(`The WebJobs oracle exited (${String(code)}) before it was ready:\n${lines.slice(-40).join("\n")}`)),
    );
    setTimeout(() => reject(new Error(`The WebJobs oracle was not ready within 90 s:\n${lines.slice(-40).join("\n")}`)), 90_000).unref();
  });
  let webhookUrl: string;
  try {
    webhookUrl = await ready;
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    side: "webjobs-sdk",
    webhookUrl,
    async stop() {
      child.stdin.end("stop\n");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`The WebJobs oracle stopped with exit code ${String(code)}:\n${lines.slice(-40).join("\n")}`);
    },
    output: () => lines.join("\n"),
  };
}

function keep(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 2_000) lines.splice(0, lines.length - 2_000);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

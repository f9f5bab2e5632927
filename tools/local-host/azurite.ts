/**
 * Azurite, the local Azure Storage emulator, started from its npm package as a child process on
 * loopback (free ports for tests, the usual 10000-10002 for `npm start`), with its connection
 * string, and stopped when asked or when the process that started it dies. Gives the app, the
 * local host and the tests real blob and queue endpoints offline.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

/** Azurite's published development account: a well-known public value, not a secret. */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteOptions {
  /** Ports for blob, queue and table; 0 picks free ones (tests). Default 0. */
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** Folder for persisted data; omitted means in-memory (tests). */
  location?: string;
  /** Called with each line Azurite prints, for debugging. */
  onLog?: (line: string) => void;
}

export interface Azurite {
  blobUrl: string;
  queueUrl: string;
  tableUrl: string;
  /** A full connection string (the form `AzureWebJobsStorage` takes). */
  connectionString: string;
  stop(): Promise<void>;
}

/**
 * Starts Azurite from the npm package as a child process on loopback with telemetry off.
 * @throws Error when Azurite exits before listening (a port in use, say), with its output.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const require = createRequire(import.meta.url);
  const bin = path.join(path.dirname(require.resolve("azurite/package.json")), "dist/src/azurite.js");
  const args = [
    bin,
    "--disableTelemetry",
    "--skipApiVersionCheck",
    "--loose",
    "--blobHost",
    "127.0.0.1",
    "--queueHost",
    "127.0.0.1",
    "--tableHost",
    "127.0.0.1",
    "--blobPort",
    String(options.blobPort ?? 0),
    "--queuePort",
    String(options.queuePort ?? 0),
    "--tablePort",
    String(options.tablePort ?? 0),
  ];
  if (options.location) args.push("--location", options.location);
  else args.push("--inMemoryPersistence");

  // Azurite stops itself (SIGTERM: a clean shutdown that saves its data) when our end of its stdin
  // closes, that is when this process dies: a killed npm start leaves no Azurite holding 10000-10002.
  const exitWithParent = 'process.stdin.once("end",()=>process.kill(process.pid,"SIGTERM"));process.stdin.resume();';
  const child = spawn(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(exitWithParent)}`, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const ports = await waitForPorts(child, options.onLog);
  const blobUrl = `http://127.0.0.1:${ports.blob}/${AZURITE_ACCOUNT}`;
  const queueUrl = `http://127.0.0.1:${ports.queue}/${AZURITE_ACCOUNT}`;
  const tableUrl = `http://127.0.0.1:${ports.table}/${AZURITE_ACCOUNT}`;
  return {
    blobUrl,
    queueUrl,
    tableUrl,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
      `BlobEndpoint=${blobUrl};QueueEndpoint=${queueUrl};TableEndpoint=${tableUrl};`,
    stop: () => stopChild(child),
  };
}

function waitForPorts(child: ChildProcess, onLog?: (line: string) => void): Promise<{ blob: number; queue: number; table: number }> {
  return new Promise((resolve, reject) => {
    const found: Record<string, number> = {};
    let output = "";
    const onData = (data: Buffer) => {
      const text = data.toString();
      output += text;
      for (const line of text.split("\n")) {
        if (line.trim()) onLog?.(line);
        const match = /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/[^:]+:(\d+)/.exec(line);
        if (match) found[match[1]!.toLowerCase()] = Number(match[2]);
      }
      if (found.blob && found.queue && found.table) {
        resolve({ blob: found.blob, queue: found.queue, table: found.table });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`Azurite exited (code ${code}) before listening. Is a port in use?\n${output}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

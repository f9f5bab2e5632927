/**
 * `startStack()`: everything `npm start` runs, in order: Azurite (when storage is the emulator),
 * the app's containers and queues, the Azure OpenAI simulator (when no endpoint is set), then the
 * Functions host (Core Tools' `func` when on PATH, else the local host), until /api/health answers.
 * Shared by `npm start` and the end-to-end tests, so both start the app the same way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { startAzurite, type Azurite } from "./azurite.js";
import { BLOB_POISON_QUEUE, HOSTS_CONTAINER } from "./blob-trigger.js";
import { startHost, type HostFunctionInfo, type LocalHost, type StartHostOptions } from "./index.js";

/** Default local ports (Core Tools and Azurite conventions). */
export const DEFAULT_PORTS = { functions: 7071, blob: 10000, queue: 10001, table: 10002, simulator: 4010 } as const;

export interface StackOptions {
  /** The function app root (package.json, host.json). */
  root: string;
  /** Effective settings (local.settings.json Values over defaults, shell wins). */
  settings: Record<string, string>;
  functionsPort: number;
  simulatorPort: number;
  /** Azurite ports and data folder; `location: undefined` keeps data in memory (tests). */
  azurite: { blobPort: number; queuePort: number; tablePort: number; location?: string };
  /** Use Core Tools when `func` is on PATH ("auto"), always, or never. */
  useFunc: "auto" | boolean;
  /** How long to wait for GET /api/health to answer 200. Default 90 s. */
  healthTimeoutMs?: number;
  /** Extra local-host options (tests: shorter scans and leases). */
  hostOptions?: Partial<StartHostOptions>;
  onLog?: (source: "host" | "azurite" | "func", line: string) => void;
}

export interface Stack {
  functionsUrl: string;
  /** The app's settings as the host got them (secrets included: never print them whole). */
  settings: Record<string, string>;
  azurite?: Azurite;
  simulatorUrl?: string;
  functions: HostFunctionInfo[];
  containers: string[];
  queues: string[];
  runtime: "local-host" | "func";
  /** Stops the host, then the simulator, then Azurite. */
  stop(): Promise<void>;
  /** Ends the Functions host abruptly (tests). */
  killHost(): Promise<void>;
}

interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts everything `npm start` runs: Azurite (when storage is the emulator), the containers and
 * queues the app needs, the Azure OpenAI simulator (when AZURE_OPENAI_ENDPOINT is unset), then
 * the Functions host (`func` or the local host), and waits for GET /api/health to answer 200.
 * @throws Error with the reason when a part fails to start or health stays unavailable; whatever
 *   was started is stopped first.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const settings = { ...options.settings };
  const started: Stoppable[] = [];
  const stopAll = async () => {
    for (const part of started.reverse()) await part.stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    let azurite: Azurite | undefined;
    const storageSetting = settings.AzureWebJobsStorage;
    const usesIdentityStorage = Boolean(settings.AzureWebJobsStorage__blobServiceUri || settings.AzureWebJobsStorage__queueServiceUri);
    if (!usesIdentityStorage && (!storageSetting || /UseDevelopmentStorage=true/i.test(storageSetting))) {
      azurite = await startAzurite({
        blobPort: options.azurite.blobPort,
        queuePort: options.azurite.queuePort,
        tablePort: options.azurite.tablePort,
        ...(options.azurite.location ? { location: options.azurite.location } : {}),
        onLog: (line) => options.onLog?.("azurite", line),
      });
      started.push(azurite);
      const defaultPorts = options.azurite.blobPort === DEFAULT_PORTS.blob && options.azurite.queuePort === DEFAULT_PORTS.queue;
      // UseDevelopmentStorage=true means the default ports; on other ports spell the endpoints out.
      settings.AzureWebJobsStorage = defaultPorts ? "UseDevelopmentStorage=true" : azurite.connectionString;
    }

    const { containers, queues } = await createStorageEntities(settings);

    let simulatorUrl: string | undefined;
    if (!settings.AZURE_OPENAI_ENDPOINT) {
      const simulator = await import("../simulator/index.js");
      const sim = await simulator.start({ port: options.simulatorPort });
      started.push(sim);
      simulatorUrl = sim.url;
      settings.AZURE_OPENAI_ENDPOINT = sim.url;
      // The simulator serves the App Service managed identity protocol, so the app's real
      // ManagedIdentityCredential path runs; no API key is handed to the app.
      settings.IDENTITY_ENDPOINT = sim.identity.endpoint;
      settings.IDENTITY_HEADER = sim.identity.header;
    }

    const funcPath = options.useFunc === false ? undefined : findOnPath("func");
    if (options.useFunc === true && !funcPath) throw new Error("useFunc is true but `func` (Azure Functions Core Tools) is not on PATH.");
    let functionsUrl: string;
    let functions: HostFunctionInfo[] = [];
    let killHost: () => Promise<void>;
    let earlyExit: Promise<never> = new Promise(() => undefined);
    if (funcPath) {
      const func = startFunc(funcPath, options.root, options.functionsPort, settings, options.onLog);
      started.push(func);
      functionsUrl = `http://127.0.0.1:${options.functionsPort}`;
      killHost = () => func.stop();
      earlyExit = func.exited.then((code) => {
        throw new Error(`func (${funcPath}) exited with code ${code} before /api/health answered; see its output above.`);
      });
    } else {
      const host: LocalHost = await startHost({
        entry: appEntry(options.root),
        cwd: options.root,
        env: settings,
        port: options.functionsPort,
        onLog: (line) => options.onLog?.("host", line),
        ...options.hostOptions,
      });
      started.push(host);
      functionsUrl = host.url;
      functions = host.functions;
      killHost = () => host.kill();
    }
    const healthy = waitForHealth(`${functionsUrl}/api/health`, options.healthTimeoutMs ?? 90_000);
    earlyExit.catch(() => undefined); // observed through the race below
    await Promise.race([healthy, earlyExit]);
    return {
      functionsUrl,
      settings,
      ...(azurite ? { azurite } : {}),
      ...(simulatorUrl ? { simulatorUrl } : {}),
      functions,
      containers,
      queues,
      runtime: funcPath ? "func" : "local-host",
      stop: stopAll,
      killHost,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Containers and queues the app uses (from its settings, with the documented defaults). */
export function appStorageNames(settings: Record<string, string>): { containers: string[]; queues: string[] } {
  const queue = settings.EMBEDDINGS_QUEUE ?? "embeddings";
  return {
    containers: [
      settings.AUDIO_CONTAINER ?? "audio",
      settings.TRANSCRIPTS_CONTAINER ?? "transcripts",
      settings.EMBEDDINGS_CONTAINER ?? "embeddings",
      settings.SPEECH_CONTAINER ?? "speech",
      settings.IMAGES_CONTAINER ?? "images",
      HOSTS_CONTAINER,
    ].filter((name, i, all) => all.indexOf(name) === i),
    queues: [
      queue,
      `${queue}-poison`,
      BLOB_POISON_QUEUE,
      ...[settings.SPEECH_QUEUE ?? "speech", settings.IMAGES_QUEUE ?? "images"].flatMap((name) => [name, `${name}-poison`]),
    ],
  };
}

async function createStorageEntities(settings: Record<string, string>): Promise<{ containers: string[]; queues: string[] }> {
  const names = appStorageNames(settings);
  const connection = settings.AzureWebJobsStorage;
  if (!connection) return names; // identity-based storage: provisioned in Azure, not created here
  const blobs = BlobServiceClient.fromConnectionString(connection);
  const queues = QueueServiceClient.fromConnectionString(connection);
  try {
    for (const name of names.containers) await blobs.getContainerClient(name).createIfNotExists();
    for (const name of names.queues) await queues.getQueueClient(name).createIfNotExists();
  } catch (error) {
    throw new Error(`Could not create the app's containers and queues in storage (${blobs.url}): ${(error as Error).message}`);
  }
  return names;
}

/** The app's entry point: package.json "main". */
export function appEntry(root: string): string {
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { main?: string };
  if (!pkg.main) throw new Error(`package.json in ${root} has no "main"; set it to the built entry (dist/src/index.js).`);
  return path.join(root, pkg.main);
}

/**
 * Polls GET /api/health until it answers 200.
 * @throws Error quoting the last status and body when it does not within timeoutMs.
 */
export async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (response.status === 200) return;
      last = `${response.status} ${(await response.text()).slice(0, 500)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`GET ${url} did not answer 200 within ${Math.round(timeoutMs / 1000)} s. Last answer: ${last}`);
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function startFunc(
  funcPath: string,
  root: string,
  port: number,
  settings: Record<string, string>,
  onLog: StackOptions["onLog"],
): Stoppable & { exited: Promise<number | null> } {
  const child: ChildProcess = spawn(funcPath, ["start", "--port", String(port)], {
    cwd: root,
    env: { ...process.env, ...settings },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const relay = (data: Buffer) => {
    for (const line of data.toString("utf8").split("\n")) if (line.trim()) onLog?.("func", line);
  };
  child.stdout?.on("data", relay);
  child.stderr?.on("data", relay);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    exited,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGINT");
      }),
  };
}

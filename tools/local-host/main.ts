/**
 * The local Functions host process: serves `@azure/functions-core`, loads the app, and runs its
 * HTTP, queue and blob triggers. Started by `startHost()` (index.ts) with its options as argv[2].
 */
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { BlobTriggerHost, collectBlobTriggers } from "./blob-trigger.js";
import { createCoreApi, createRegistry, runHooks } from "./core-api.js";
import { isAuthorizedForAdmin, isAuthorizedForRuntime, keyPolicyFromEnv } from "./function-keys.js";
import { loadHostConfig } from "./host-config.js";
import { pathForLog, requestUrl, sendText } from "./http-server.js";
import type { FrontThreadData } from "./http-front-protocol.js";
import { collectHttpRoutes, serveHttpInvocations } from "./http-invocations.js";
import { installCoreModule } from "./install-core-module.js";
import { loadApp } from "./load-app.js";
import type { InvocationLogger } from "./invoke.js";
import { captureLibraryProxy, type ProxyTracker } from "./proxy-tracker.js";
import type { QueueListener } from "./queue-listener.js";
import { createQueueTrigger } from "./queue-trigger.js";
import { FAILED_PREFIX, READY_PREFIX, type HostProcessOptions } from "./host-protocol.js";
import type { RpcLogLevel } from "./rpc-types.js";
import { resolveStorage, type StorageClients } from "./storage-clients.js";

const options = JSON.parse(process.argv[2] ?? "{}") as HostProcessOptions;
const registry = createRegistry();

/** Replaced by the graceful shutdown once the host serves. */
let shutdown: () => Promise<void> = () => process.exit(0);
if (options.exitWithParent) {
  process.stdin.once("end", () => void shutdown());
  process.stdin.once("error", () => void shutdown());
  process.stdin.resume();
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

const levelRank: Record<RpcLogLevel, number> = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5, none: 6 };
const minimumLevel = options.verbose ? 0 : 2;

const invocationLog: InvocationLogger = (fn, invocationId, level, category, message) => {
  if (levelRank[level] >= minimumLevel)
    print(`[${new Date().toISOString()}] ${category === "user" ? `${fn.metadata.name}: ` : ""}${message}`);
  runLogHooks(level, category, message, invocationId);
};

function runLogHooks(level: RpcLogLevel, category: string, message: string, invocationId?: string): void {
  for (const hook of registry.hooks.get("log") ?? []) {
    try {
      void hook({ hookData: {}, level, category, message, ...(invocationId ? { invocationId } : {}) });
    } catch {
      // A failing log hook must not break logging.
    }
  }
}

async function main(): Promise<void> {
  installCoreModule(
    createCoreApi(registry, (level, category, message) => {
      if (levelRank[level] >= Math.max(minimumLevel, category === "system" ? 3 : 0)) print(`[${new Date().toISOString()}] ${message}`);
    }),
  );
  const entry = path.resolve(options.entry);
  // The app root is the host's working folder (where host.json and package.json are), as on Azure.
  await loadApp(entry, process.cwd());
  const model = registry.programmingModel;
  if (!model || registry.functions.size === 0) {
    throw new Error(`The app at ${entry} registered no functions. Does it call app.http/app.storageQueue/... from @azure/functions v4?`);
  }
  await runHooks(registry, "appStart", { hookData: {}, appHookData: registry.appHookData, functionAppDirectory: process.cwd() });

  // getCapabilities starts the library's HTTP proxy when the app enabled HTTP streaming.
  const { result: capabilities, tracker } = await captureLibraryProxy(() => model.getCapabilities({}));
  const proxyUri = capabilities.HttpUri ? capabilities.HttpUri.replace("//localhost:", "//127.0.0.1:") : undefined;
  const proxyTracker: ProxyTracker | undefined = proxyUri ? tracker : undefined;

  const config = loadHostConfig(options.hostJson);
  if (options.maxRequestBodyBytes !== undefined) config.http.maxRequestBodyBytes = options.maxRequestBodyBytes;
  const keys = keyPolicyFromEnv(process.env);
  const hostLog = (message: string) => print(`[${new Date().toISOString()}] ${message}`);

  const storageByConnection = new Map<string, StorageClients>();
  const storageFor = (connection: unknown): StorageClients => {
    const name = typeof connection === "string" && connection !== "" ? connection : "AzureWebJobsStorage";
    let clients = storageByConnection.get(name);
    if (!clients) {
      clients = resolveStorage(name, process.env);
      storageByConnection.set(name, clients);
    }
    return clients;
  };

  for (const fn of registry.functions.values()) {
    for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
      const type = binding.type?.toLowerCase();
      if (binding.direction === "out" && type !== "http") {
        hostLog(
          `Warning: ${fn.metadata.name}: output binding "${name}" (${binding.type}) is not run by the local host; write with the SDK instead.`,
        );
      } else if (binding.direction !== "out" && type && !["httptrigger", "queuetrigger", "blobtrigger"].includes(type)) {
        hostLog(
          `Warning: ${fn.metadata.name}: binding "${name}" (${binding.type}) is not supported by the local host; the function will not be triggered.`,
        );
      }
    }
    if (fn.metadata.retryOptions) hostLog(`Warning: ${fn.metadata.name}: retry policies are not applied by the local host.`);
  }

  const queueListeners: QueueListener[] = [];
  const describedFunctions: Array<Record<string, unknown>> = [];
  for (const fn of registry.functions.values()) {
    for (const [triggerName, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.type?.toLowerCase() !== "queuetrigger") continue;
      const listener = await createQueueTrigger(
        { registry, config, storage: storageFor(binding.connection), leaseSeconds: options.leaseSeconds, log: invocationLog, hostLog },
        fn,
        triggerName,
        binding,
      );
      queueListeners.push(listener);
      describedFunctions.push({ name: fn.metadata.name, trigger: "queue", queueName: binding.queueName });
    }
  }

  const blobHosts = new Map<string, BlobTriggerHost>();
  for (const blobFunction of collectBlobTriggers(registry)) {
    const connection = typeof blobFunction.binding.connection === "string" ? blobFunction.binding.connection : "AzureWebJobsStorage";
    let host = blobHosts.get(connection);
    if (!host) {
      host = new BlobTriggerHost(
        {
          registry,
          config,
          storage: storageFor(connection),
          hostId: options.hostId,
          scanIntervalMs: options.blobScanIntervalMs,
          leaseSeconds: options.leaseSeconds,
          log: invocationLog,
          hostLog,
        },
        [],
      );
      blobHosts.set(connection, host);
    }
    host.functions.push(blobFunction);
    describedFunctions.push({
      name: blobFunction.fn.metadata.name,
      trigger: "blob",
      path: blobFunction.binding.path,
      source: blobFunction.source,
    });
  }

  // Host endpoints drive this thread's triggers, so they are served here; the front door relays them.
  const runtimeEndpoints = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> => {
    const lowerPath = url.pathname.toLowerCase();
    if (lowerPath === "/runtime/webhooks/blobs" && req.method === "POST") {
      const key = url.searchParams.get("code") ?? (req.headers["x-functions-key"] as string | undefined);
      if (!isAuthorizedForRuntime(keys, key)) {
        sendText(res, 401, "Unauthorized: the blob webhook needs the master key or a host key in ?code=.");
        return true;
      }
      const name = (url.searchParams.get("functionName") ?? "").replace(/^Host\.Functions\./i, "").toLowerCase();
      const owner = [...blobHosts.values()].find((h) => h.functions.some((f) => f.fn.metadata.name.toLowerCase() === name));
      if (owner) await owner.handleWebhook(req, res, url);
      else sendText(res, 404, `No blob trigger function named "${url.searchParams.get("functionName") ?? ""}".`);
      return true;
    }
    if (lowerPath.startsWith("/admin/")) {
      const key = (req.headers["x-functions-key"] as string | undefined) ?? url.searchParams.get("code") ?? undefined;
      if (!isAuthorizedForAdmin(keys, key)) {
        sendText(res, 401, "Unauthorized: admin endpoints need the master key, in the x-functions-key header or ?code=.");
        return true;
      }
    }
    if (lowerPath === "/admin/host/status") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ state: "Running", id: options.hostId }));
      return true;
    }
    return false;
  };
  const runtimeServer = http.createServer({ requestTimeout: 0 }, (req, res) => {
    const url = requestUrl(req);
    if (!url) return sendText(res, 400, "Bad Request: the URL is not valid.");
    runtimeEndpoints(req, res, url).then(
      (handled) => {
        if (!handled) sendText(res, 404, "Not Found");
      },
      (error: unknown) => {
        hostLog(
          `Request ${req.method} ${pathForLog(req)} failed in the host: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        if (!res.headersSent) sendText(res, 500, "Internal Server Error");
        else res.destroy();
      },
    );
  });
  const runtimePort = await listen(runtimeServer, 0);

  // The HTTP front door runs in a thread of its own, as the Functions host is a process of its
  // own on Azure: relaying client bytes never takes this thread, which runs the app.
  const routes = collectHttpRoutes(registry);
  const threadData: FrontThreadData = {
    routes,
    config,
    keys,
    proxyUri,
    runtimeUri: `http://127.0.0.1:${runtimePort}`,
    port: options.port,
  };
  // Beside this file, with its extension (.js in dist, .mjs when bundled for tests).
  const frontScript = new URL(`./http-front-thread${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const front = new Worker(frontScript, { workerData: threadData });
  const port = await new Promise<number>((resolve, reject) => {
    serveHttpInvocations(
      front,
      { registry, proxyTracker, log: invocationLog, hostLog },
      { onReady: resolve, onFailed: (message) => reject(new Error(message)) },
    );
    front.once("error", reject);
    front.once("exit", (code) => reject(new Error(`The HTTP front door stopped before it listened (exit code ${code}).`)));
  });
  front.on("error", (error) => {
    // Without its front door the host serves nothing: say why and stop.
    hostLog(`The HTTP front door failed: ${error.stack ?? error.message}`);
    void shutdown();
  });
  const url = `http://127.0.0.1:${port}`;
  for (const r of routes) {
    describedFunctions.push({
      name: r.functionName,
      trigger: "http",
      methods: r.methods,
      authLevel: r.authLevel,
      url: `${url}/${[config.http.routePrefix, r.template.replace(/^\/+/, "")].filter(Boolean).join("/")}`,
    });
  }

  for (const listener of queueListeners) listener.start();
  for (const host of blobHosts.values()) await host.start();

  // startHost's caller gets the list in the ready line (npm start prints it in its summary).
  if (options.verbose) {
    print("Functions:");
    for (const f of describedFunctions) print(`  ${describeFunction(f)}`);
  }
  print(`${READY_PREFIX}${JSON.stringify({ url, port, functions: describedFunctions, streaming: Boolean(proxyUri) })}`);

  let stopping = false;
  shutdown = async () => {
    if (stopping) return;
    stopping = true;
    // Bounded, as the parent's stop() is (SIGKILL after 10 s): with storage gone (an orphan whose
    // npm start was killed with Azurite), stopping the pollers would otherwise wait out SDK retries.
    setTimeout(() => process.exit(0), 10_000).unref();
    await front.terminate();
    runtimeServer.close();
    runtimeServer.closeAllConnections();
    await Promise.all([...queueListeners.map((l) => l.stop()), ...[...blobHosts.values()].map((h) => h.stop())]);
    await runHooks(registry, "appTerminate", { hookData: {}, appHookData: registry.appHookData }).catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown());
  process.on("SIGINT", () => void shutdown());
}

function describeFunction(f: Record<string, unknown>): string {
  if (f.trigger === "http") return `${String(f.name)}: [${(f.methods as string[]).join(",") || "ALL"}] ${String(f.url)}`;
  if (f.trigger === "queue") return `${String(f.name)}: queueTrigger (${String(f.queueName)})`;
  return `${String(f.name)}: blobTrigger (${String(f.path)}, ${String(f.source)})`;
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`Port ${port} is already in use; set FUNCTIONS_PORT to a free port (or stop the other process).`)
          : error,
      );
    });
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${error instanceof Error ? (error.stack ?? message) : message}\n`);
  print(`${FAILED_PREFIX}${JSON.stringify({ message })}`);
  process.exit(3);
});

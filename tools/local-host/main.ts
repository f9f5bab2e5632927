/**
 * The local Functions host process: serves `@azure/functions-core`, loads the app, and runs its
 * HTTP, queue and blob triggers. Started by `startHost()` (index.ts) with its options as argv[2].
 * `main` runs the start-up as named steps, in the Functions host's order: load the app, start the
 * library's HTTP proxy, create the storage triggers, serve the host endpoints, start the HTTP
 * front door, start the triggers, announce ready; then it waits for the signal to shut down.
 */
import type http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { createCoreApi, createRegistry, runHooks } from "./core-api.js";
import { keyPolicyFromEnv } from "./function-keys.js";
import { loadHostConfig, type HostConfig } from "./host-config.js";
import type { FrontThreadData, HttpRouteInfo } from "./http-front-protocol.js";
import { startHttpFrontDoor } from "./http-front-start.js";
import { collectHttpRoutes } from "./http-invocations.js";
import { installCoreModule } from "./install-core-module.js";
import { loadApp } from "./load-app.js";
import type { InvocationLogger } from "./invoke.js";
import { captureLibraryProxy, type ProxyTracker } from "./proxy-tracker.js";
import { FAILED_PREFIX, READY_PREFIX, type HostProcessOptions } from "./host-protocol.js";
import type { ProgrammingModel, RpcLogLevel } from "./rpc-types.js";
import { startRuntimeEndpoints } from "./runtime-endpoints.js";
import {
  createStorageTriggers,
  startStorageTriggers,
  stopStorageTriggers,
  warnAboutUnsupportedBindings,
  type DescribedFunction,
  type StorageTriggers,
} from "./storage-triggers.js";

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

const hostLog = (message: string) => print(`[${new Date().toISOString()}] ${message}`);

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
  const model = await loadTheApp();
  const { proxyUri, proxyTracker } = await startLibraryProxy(model);

  const config = loadHostConfig(options.hostJson);
  if (options.maxRequestBodyBytes !== undefined) config.http.maxRequestBodyBytes = options.maxRequestBodyBytes;
  const keys = keyPolicyFromEnv(process.env);

  warnAboutUnsupportedBindings(registry, hostLog);
  const triggers = await createStorageTriggers({
    registry,
    config,
    hostId: options.hostId,
    leaseSeconds: options.leaseSeconds,
    blobScanIntervalMs: options.blobScanIntervalMs,
    log: invocationLog,
    hostLog,
  });

  // Host endpoints drive this thread's triggers, so they are served here; the front door relays them.
  const runtime = await startRuntimeEndpoints({ keys, blobHosts: triggers.blobHosts, hostId: options.hostId, hostLog });

  // The HTTP front door runs in a thread of its own, as the Functions host is a process of its
  // own on Azure: relaying client bytes never takes this thread, which runs the app.
  const routes = collectHttpRoutes(registry);
  const threadData: FrontThreadData = {
    routes,
    config,
    keys,
    proxyUri,
    runtimeUri: `http://127.0.0.1:${runtime.port}`,
    port: options.port,
  };
  // Beside this file, with its extension (.js in dist, .mjs when bundled for tests).
  const frontScript = new URL(`./http-front-thread${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const { front, port } = await startHttpFrontDoor(
    frontScript,
    threadData,
    { registry, proxyTracker, log: invocationLog, hostLog },
    hostLog,
    () => void shutdown(),
  );
  const url = `http://127.0.0.1:${port}`;

  await startStorageTriggers(triggers);
  announceReady(url, port, [...triggers.described, ...describeHttpRoutes(routes, url, config)], Boolean(proxyUri));

  shutdown = gracefulShutdown(front, runtime.server, triggers);
  process.on("SIGTERM", () => void shutdown());
  process.on("SIGINT", () => void shutdown());
}

/**
 * Serves `@azure/functions-core` to the library, loads the app (which registers its functions
 * through it) and runs its `appStart` hooks.
 * @throws Error when the app registers no functions.
 */
async function loadTheApp(): Promise<ProgrammingModel> {
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
  return model;
}

/** getCapabilities starts the library's HTTP proxy when the app enabled HTTP streaming; both are undefined when it did not. */
async function startLibraryProxy(
  model: ProgrammingModel,
): Promise<{ proxyUri: string | undefined; proxyTracker: ProxyTracker | undefined }> {
  const { result: capabilities, tracker } = await captureLibraryProxy(() => model.getCapabilities({}));
  const proxyUri = capabilities.HttpUri ? capabilities.HttpUri.replace("//localhost:", "//127.0.0.1:") : undefined;
  return { proxyUri, proxyTracker: proxyUri ? tracker : undefined };
}

function describeHttpRoutes(routes: readonly HttpRouteInfo[], url: string, config: HostConfig): DescribedFunction[] {
  return routes.map((route) => ({
    name: route.functionName,
    trigger: "http",
    methods: route.methods,
    authLevel: route.authLevel,
    url: `${url}/${[config.http.routePrefix, route.template.replace(/^\/+/, "")].filter(Boolean).join("/")}`,
  }));
}

/** Prints the ready line startHost's caller waits for (npm start prints its list in its summary); in verbose mode, the functions too. */
function announceReady(url: string, port: number, functions: DescribedFunction[], streaming: boolean): void {
  if (options.verbose) {
    print("Functions:");
    for (const described of functions) print(`  ${describeFunction(described)}`);
  }
  print(`${READY_PREFIX}${JSON.stringify({ url, port, functions, streaming })}`);
}

function describeFunction(described: DescribedFunction): string {
  if (described.trigger === "http")
    return `${String(described.name)}: [${(described.methods as string[]).join(",") || "ALL"}] ${String(described.url)}`;
  if (described.trigger === "queue") return `${String(described.name)}: queueTrigger (${String(described.queueName)})`;
  return `${String(described.name)}: blobTrigger (${String(described.path)}, ${String(described.source)})`;
}

/** The shutdown once the host serves: front door, host endpoints, triggers, then the `appTerminate` hooks; once only. */
function gracefulShutdown(front: Worker, runtimeServer: http.Server, triggers: StorageTriggers): () => Promise<void> {
  let stopping = false;
  return async () => {
    if (stopping) return;
    stopping = true;
    // Bounded, as the parent's stop() is (SIGKILL after 10 s): with storage gone (an orphan whose
    // npm start was killed with Azurite), stopping the pollers would otherwise wait out SDK retries.
    setTimeout(() => process.exit(0), 10_000).unref();
    await front.terminate();
    runtimeServer.close();
    runtimeServer.closeAllConnections();
    await stopStorageTriggers(triggers);
    await runHooks(registry, "appTerminate", { hookData: {}, appHookData: registry.appHookData }).catch(() => undefined);
    process.exit(0);
  };
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${error instanceof Error ? (error.stack ?? message) : message}\n`);
  print(`${FAILED_PREFIX}${JSON.stringify({ message })}`);
  process.exit(3);
});

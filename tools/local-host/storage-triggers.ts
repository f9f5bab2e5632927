/**
 * The storage triggers the host process runs for the app: one queue listener per queue-triggered
 * function and one BlobTriggerHost per storage connection (it runs all of that connection's
 * blob-triggered functions over one internal queue), with storage clients shared by connection
 * name. Also warns about bindings the local host does not run, so a function that would never be
 * triggered locally says so at start instead of staying silent.
 */
import { BlobTriggerHost, collectBlobTriggers } from "./blob-trigger.js";
import type { CoreRegistry } from "./core-api.js";
import type { HostConfig } from "./host-config.js";
import type { InvocationLogger } from "./invoke.js";
import type { QueueListener } from "./queue-listener.js";
import { createQueueTrigger } from "./queue-trigger.js";
import { resolveStorage, type StorageClients } from "./storage-clients.js";

/** A function as the ready line and the verbose listing describe it (`name`, `trigger`, and the trigger's details). */
export type DescribedFunction = Record<string, unknown>;

export interface StorageTriggerDeps {
  registry: CoreRegistry;
  config: HostConfig;
  hostId: string;
  leaseSeconds: number;
  blobScanIntervalMs: number;
  log: InvocationLogger;
  hostLog: (message: string) => void;
}

export interface StorageTriggers {
  queueListeners: QueueListener[];
  /** By connection name. */
  blobHosts: Map<string, BlobTriggerHost>;
  /** Queue functions first, then blob functions, in registration order. */
  described: DescribedFunction[];
}

/** Logs a warning for each binding the local host will not run, and for retry policies it does not apply. */
export function warnAboutUnsupportedBindings(registry: CoreRegistry, hostLog: (message: string) => void): void {
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
}

/**
 * Creates (without starting) the queue listeners and blob trigger hosts of every storage-triggered function.
 * @throws Error when a trigger's storage connection is not configured or a queue trigger has no queueName.
 */
export async function createStorageTriggers(deps: StorageTriggerDeps): Promise<StorageTriggers> {
  const { registry, config, hostLog } = deps;
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

  const queueListeners: QueueListener[] = [];
  const described: DescribedFunction[] = [];
  for (const fn of registry.functions.values()) {
    for (const [triggerName, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.type?.toLowerCase() !== "queuetrigger") continue;
      const listener = await createQueueTrigger(
        { registry, config, storage: storageFor(binding.connection), leaseSeconds: deps.leaseSeconds, log: deps.log, hostLog },
        fn,
        triggerName,
        binding,
      );
      queueListeners.push(listener);
      described.push({ name: fn.metadata.name, trigger: "queue", queueName: binding.queueName });
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
          hostId: deps.hostId,
          scanIntervalMs: deps.blobScanIntervalMs,
          leaseSeconds: deps.leaseSeconds,
          log: deps.log,
          hostLog,
        },
        [],
      );
      blobHosts.set(connection, host);
    }
    host.functions.push(blobFunction);
    described.push({
      name: blobFunction.fn.metadata.name,
      trigger: "blob",
      path: blobFunction.binding.path,
      source: blobFunction.source,
    });
  }
  return { queueListeners, blobHosts, described };
}

/** Starts polling: the queue listeners, then each blob trigger host (which creates its containers and queue first). */
export async function startStorageTriggers(triggers: StorageTriggers): Promise<void> {
  for (const listener of triggers.queueListeners) listener.start();
  for (const host of triggers.blobHosts.values()) await host.start();
}

/** Stops every listener and blob trigger host, waiting for their running invocations. */
export async function stopStorageTriggers(triggers: StorageTriggers): Promise<void> {
  await Promise.all([
    ...triggers.queueListeners.map((listener) => listener.stop()),
    ...[...triggers.blobHosts.values()].map((host) => host.stop()),
  ]);
}

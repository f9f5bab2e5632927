/**
 * Queue triggers as the Functions host runs them: one QueueListener per queue-triggered function,
 * with host.json's queue settings, the message decoded per `messageEncoding` (a message that is
 * not base64 when base64 is expected goes straight to poison), the host's trigger metadata, and
 * `<queue>-poison` for messages that keep failing. The app's handler runs as it would on Azure.
 */
import type { DequeuedMessageItem } from "@azure/storage-queue";
import type { CoreRegistry, RegisteredFunction } from "./core-api.js";
import type { HostConfig } from "./host-config.js";
import { invokeFunction, rpcJson, rpcString, systemMetadata, type InvocationLogger } from "./invoke.js";
import { isValidBase64, PoisonMessageError, QueueListener } from "./queue-listener.js";
import type { RpcBindingInfo, RpcTypedData } from "./rpc-types.js";
import type { StorageClients } from "./storage-clients.js";

export interface QueueTriggerDeps {
  registry: CoreRegistry;
  config: HostConfig;
  storage: StorageClients;
  leaseSeconds: number;
  log: InvocationLogger;
  hostLog: (message: string) => void;
}

/**
 * Creates the listener for one queue-triggered function (queue and `<queue>-poison` are created
 * when missing, which Core Tools leaves to the user; locally it saves a setup step).
 * @throws Error when the binding has no queueName.
 */
export async function createQueueTrigger(
  deps: QueueTriggerDeps,
  fn: RegisteredFunction,
  triggerName: string,
  binding: RpcBindingInfo,
): Promise<QueueListener> {
  const queueName = typeof binding.queueName === "string" ? resolveSettingExpression(binding.queueName) : undefined;
  if (!queueName) throw new Error(`Function "${fn.metadata.name}" has a queue trigger without queueName.`);
  const queue = deps.storage.queues.getQueueClient(queueName);
  const poisonQueue = deps.storage.queues.getQueueClient(`${queueName}-poison`);
  await queue.createIfNotExists();
  const queueSettings = deps.config.queues;

  return new QueueListener({
    queue,
    batchSize: queueSettings.batchSize,
    newBatchThreshold: queueSettings.newBatchThreshold,
    maxPollingIntervalMs: queueSettings.maxPollingIntervalMs,
    retryVisibilityMs: queueSettings.visibilityTimeoutMs,
    maxDequeueCount: queueSettings.maxDequeueCount,
    leaseSeconds: deps.leaseSeconds,
    log: deps.hostLog,
    async poison(message) {
      // The poison copy keeps the original (still encoded) text, as the extension does.
      await poisonQueue.createIfNotExists();
      await poisonQueue.sendMessage(message.messageText);
    },
    async process(message) {
      const text = decodeMessage(message.messageText, queueSettings.messageEncoding);
      const data: RpcTypedData = binding.dataType === "binary" ? { bytes: Buffer.from(text, "utf8") } : rpcString(text);
      await invokeFunction(
        deps.registry,
        fn,
        {
          inputData: [{ name: triggerName, data }],
          triggerMetadata: queueTriggerMetadata(message, text, fn),
          reason: `New queue message detected on '${queueName}'.`,
        },
        deps.log,
      );
    },
  });
}

/**
 * Decodes a message per host.json messageEncoding.
 * @throws PoisonMessageError when base64 is expected and the text is not base64.
 */
export function decodeMessage(messageText: string, encoding: "base64" | "none"): string {
  if (encoding === "none") return messageText;
  if (!isValidBase64(messageText)) {
    throw new PoisonMessageError(
      'Message is not valid base64; host.json extensions.queues.messageEncoding is "base64" (send with base64 or set it to "none").',
    );
  }
  return Buffer.from(messageText, "base64").toString("utf8");
}

function queueTriggerMetadata(message: DequeuedMessageItem, text: string, fn: RegisteredFunction): Record<string, RpcTypedData> {
  const metadata: Record<string, RpcTypedData> = {};
  // The host merges a JSON payload's top-level fields into the binding data; fixed fields win.
  const payload = tryParseObject(text);
  if (payload) {
    for (const [key, value] of Object.entries(payload)) {
      metadata[key] = typeof value === "string" ? rpcString(value) : rpcJson(value);
    }
  }
  Object.assign(metadata, {
    QueueTrigger: rpcString(text),
    Id: rpcString(message.messageId),
    DequeueCount: { int: message.dequeueCount },
    InsertionTime: rpcString(message.insertedOn.toISOString()),
    ExpirationTime: rpcString(message.expiresOn.toISOString()),
    NextVisibleTime: rpcString(message.nextVisibleOn.toISOString()),
    PopReceipt: rpcString(message.popReceipt),
    sys: systemMetadata(fn.metadata.name),
  });
  return metadata;
}

function tryParseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Binding expressions `%SETTING%` are replaced by app settings, as the host does. */
export function resolveSettingExpression(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined) throw new Error(`Binding expression %${name}% refers to a setting that is not set.`);
    return value;
  });
}

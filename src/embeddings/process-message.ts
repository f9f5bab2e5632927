/**
 * One queue message, start to finish: parse, embed, store, and do what src/failure-actions.ts
 * decides for the failure's kind:
 *
 * | queue action | kinds                                  | what happens                                        |
 * |--------------|----------------------------------------|-----------------------------------------------------|
 * | reject       | bad_input, upstream_permanent          | `{id}.error.json` (status rejected), message        |
 * |              |                                        | completed: no retries                               |
 * | hand back    | throttled (past the throttle budget)   | a fresh copy is enqueued, visible after Azure's     |
 * |              |                                        | retry delay, a `{id}.error.json` (status retrying)  |
 * |              |                                        | says so, and the message is completed: throttling   |
 * |              |                                        | never spends a delivery, so never poisons. A copy   |
 * |              |                                        | too large for the queue (the id or time it adds can |
 * |              |                                        | push a message near 64 KiB over) is stored in a     |
 * |              |                                        | blob and a reference to it enqueued instead         |
 * | retry        | transient, configuration, cancelled    | `{id}.error.json` (status retrying) then throw: the |
 * |              | (and a hand-back that could not be     | host retries and after maxDequeueCount moves it to  |
 * |              | enqueued)                              | `-poison`, where the record says why                |
 *
 * A configuration failure (a 401/403 about the app's identity, often a role assignment still
 * propagating, or a 404 about a deployment missing from the resource) is not about the message:
 * the record holds no input text, so completing the message would lose it. It is kept for retries
 * and the poison queue, from where it can be replayed once the app is fixed.
 */
import type { QueueClient } from "@azure/storage-queue";
import { AppError, BadInputError, classifyError, withHint } from "../errors.js";
import { failureActions } from "../failure-actions.js";
import type { Logger } from "../logging.js";
import { embedInputs, type EmbedInputsDependencies } from "./embed-inputs.js";
import { parseEmbeddingsMessage, parseQueueMessage, type EmbeddingsJob } from "./message-schema.js";
import type { EmbeddingsStore } from "./result-store.js";

export interface QueueDelivery {
  /** The trigger's payload: an object when the message was JSON, else a string. */
  body: unknown;
  messageId: string;
  dequeueCount: number;
  /** When the message was first enqueued; it becomes the output's createdAt. */
  insertionTime: Date | string | undefined;
}

export interface ProcessMessageDependencies {
  embed: Omit<EmbedInputsDependencies, "logger">;
  store: EmbeddingsStore;
  /** The embeddings queue itself, to hand throttled work back as a fresh message. */
  queue: QueueClient;
  logger: Logger;
}

export type ProcessOutcome =
  | { status: "embedded"; id: string; items: number; tokens: number }
  | { status: "rejected"; id: string; reason: string }
  | { status: "requeued"; id: string; delayInMs: number };

/** Largest queue message Azure Storage accepts: 64 KiB of (here base64) text. */
const MAX_QUEUE_MESSAGE_CHARS = 64 * 1024;

/** Shortest delay before a handed-back message is visible again (queue visibility has 1 s steps). */
const MIN_REQUEUE_DELAY_IN_MS = 1000;

/**
 * Processes one delivery of an embeddings message.
 * @throws AppError when the message should be retried by the host (failureActions' `retry`); a
 *   `retrying` error record has been written first, when storage allowed.
 */
export async function processEmbeddingsMessage(delivery: QueueDelivery, deps: ProcessMessageDependencies): Promise<ProcessOutcome> {
  let job: EmbeddingsJob | undefined;
  let handback: string | undefined;
  // A reference names its work's id before the work is read, so a failure reading it is recorded there.
  let referenceId: string | undefined;
  try {
    const message = parseQueueMessage(delivery.body, delivery.messageId);
    if (message.kind === "handback") {
      handback = message.blob;
      referenceId = message.id;
      const stored = await deps.store.readHandback(message.blob);
      if (stored === undefined) return await handbackGone(message.id, delivery, deps);
      job = parseEmbeddingsMessage(stored, delivery.messageId);
    } else {
      job = message.job;
    }
    const result = await embedInputs(
      job.input,
      { deployment: job.deployment, dimensions: job.dimensions },
      { ...deps.embed, logger: deps.logger },
    );
    await deps.store.writeOutput({
      id: job.id,
      deployment: result.deployment,
      model: result.model,
      dimensions: result.dimensions,
      usage: result.usage,
      items: result.items,
      metadata: job.metadata ?? {},
      createdAt: enqueuedAt(job, delivery),
    });
    if (mayHaveErrorRecord(job, delivery, handback)) await deps.store.clearError(job.id);
    if (handback) await deps.store.deleteHandback(handback);
    deps.logger.info(
      `Embedded message ${delivery.messageId} as ${job.id}.json: ${result.items.length} vectors, ${result.usage.prompt_tokens} tokens`,
    );
    return { status: "embedded", id: job.id, items: result.items.length, tokens: result.usage.prompt_tokens };
  } catch (thrown) {
    const error = classifyError(thrown);
    const id = job?.id ?? referenceId ?? idFromDetails(error) ?? delivery.messageId;
    const action = failureActions(error).queue;
    if (action === "reject") {
      await deps.store.writeError(errorRecord(id, delivery, job, error, "rejected"));
      if (handback) await deps.store.deleteHandback(handback);
      deps.logger.warn(`Rejected message ${delivery.messageId} (${id}.error.json): ${error.message}`);
      return { status: "rejected", id, reason: error.message };
    }
    if (action === "hand_back" && job) {
      const delayInMs = Math.max(MIN_REQUEUE_DELAY_IN_MS, error.retryAfterInMs ?? 0);
      // Whoever waits for {id}.json can see why it is late. Written before the copy exists, so
      // the copy's success always removes it (written after, a slow write could outlive the output).
      const record = errorRecord(id, delivery, job, error, "retrying");
      record.reason = withHint(
        error.message,
        `A new message with the same work is visible on the queue in ${Math.ceil(delayInMs / 1000)} s.`,
      );
      await deps.store.writeError(record).catch((writeError: unknown) => {
        deps.logger.error(`Could not write ${id}.error.json: ${classifyError(writeError).message}`);
      });
      try {
        await requeue(deps, job, handback, enqueuedAt(job, delivery), delayInMs);
        deps.logger.warn(
          `Message ${delivery.messageId} (${id}) was throttled past its budget; handed back as a new message visible in ${delayInMs} ms`,
        );
        return { status: "requeued", id, delayInMs };
      } catch (requeueError) {
        // The record below replaces the one above: the host retries this message instead.
        deps.logger.warn(
          `Could not hand message ${delivery.messageId} back to the queue (${classifyError(requeueError).message}); the host will retry it`,
        );
      }
    }
    try {
      await deps.store.writeError(errorRecord(id, delivery, job, error, "retrying"));
    } catch (writeError) {
      deps.logger.error(`Could not write ${id}.error.json: ${classifyError(writeError).message}`);
    }
    deps.logger.error(
      `Message ${delivery.messageId} (${id}) failed on delivery ${delivery.dequeueCount} (${error.kind}); the host will retry it: ${error.message}`,
    );
    throw error;
  }
}

/**
 * Enqueues a copy of the job with its id and original enqueue time fixed, base64-encoded as the
 * host expects by default (with messageEncoding "none" the parser still recognises base64 JSON).
 * The id and time the copy adds can take a message that was near the queue's 64 KiB over it, and a
 * refused copy would spend a delivery on throttling: such a copy is stored in a blob and only a
 * reference to it is enqueued (work that came as a reference goes back as the same reference).
 * @throws RestError from storage; a blob stored for a refused reference is removed first.
 */
async function requeue(
  deps: ProcessMessageDependencies,
  job: EmbeddingsJob,
  handback: string | undefined,
  enqueuedAt: string,
  delayInMs: number,
): Promise<void> {
  const copy: EmbeddingsJob = { id: job.id, input: job.input };
  if (job.dimensions !== undefined) copy.dimensions = job.dimensions;
  if (job.deployment !== undefined) copy.deployment = job.deployment;
  if (job.metadata !== undefined) copy.metadata = job.metadata;
  copy.enqueuedAt = enqueuedAt;
  const send = (message: object) =>
    deps.queue.sendMessage(Buffer.from(JSON.stringify(message), "utf8").toString("base64"), {
      visibilityTimeout: Math.ceil(delayInMs / 1000),
    });
  if (handback) {
    await send({ id: job.id, handback });
    return;
  }
  if (base64Length(copy) <= MAX_QUEUE_MESSAGE_CHARS) {
    await send(copy);
    return;
  }
  const stored = await deps.store.writeHandback(copy);
  try {
    await send({ id: job.id, handback: stored });
  } catch (error) {
    await deps.store.deleteHandback(stored).catch(() => undefined);
    throw error;
  }
}

function base64Length(message: object): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify(message), "utf8") / 3) * 4;
}

/**
 * A reference whose blob is gone: an earlier delivery of it finished the work and removed the blob
 * (the host then failed to delete the message), or the reference was never the app's.
 */
async function handbackGone(id: string, delivery: QueueDelivery, deps: ProcessMessageDependencies): Promise<ProcessOutcome> {
  if (await deps.store.hasOutput(id)) {
    deps.logger.info(`Message ${delivery.messageId} refers to handed-back work for ${id} that is already done (${id}.json exists)`);
    return { status: "embedded", id, items: 0, tokens: 0 };
  }
  // An earlier delivery rejected the work (and removed its blob): keep the record saying why.
  const earlier = await deps.store.readError(id);
  if (earlier?.status === "rejected") {
    deps.logger.info(`Message ${delivery.messageId} refers to handed-back work for ${id} that was already rejected (${id}.error.json)`);
    return { status: "rejected", id, reason: earlier.reason };
  }
  throw new BadInputError(
    `The message refers to handed-back work for ${id} whose blob no longer exists and whose output was never written; send the original message again`,
    {
      code: "handback_missing",
      details: { id },
    },
  );
}

function errorRecord(
  id: string,
  delivery: QueueDelivery,
  job: EmbeddingsJob | undefined,
  error: AppError,
  status: "rejected" | "retrying",
) {
  return {
    id,
    queueMessageId: delivery.messageId,
    status,
    kind: error.kind,
    code: error.code,
    param: error.param,
    reason: error.message,
    dequeueCount: delivery.dequeueCount,
    deployment: job?.deployment,
    metadata: job?.metadata,
    failedAt: new Date().toISOString(),
  };
}

/**
 * Whether `{id}.error.json` can exist, so removing it is worth a storage call (on the common path,
 * a message's first delivery under its queue-assigned id, it cannot): an earlier delivery of this
 * message, the message this copy was handed back for, or an earlier message with the same
 * user-chosen id may have left one.
 */
function mayHaveErrorRecord(job: EmbeddingsJob, delivery: QueueDelivery, handback: string | undefined): boolean {
  return delivery.dequeueCount > 1 || handback !== undefined || job.enqueuedAt !== undefined || job.id !== delivery.messageId;
}

function idFromDetails(error: AppError): string | undefined {
  const id = (error.details as { id?: unknown } | undefined)?.id;
  return typeof id === "string" ? id : undefined;
}

/** When the work was first enqueued: a handed-back copy carries its original's time. */
function enqueuedAt(job: EmbeddingsJob, delivery: QueueDelivery): string {
  return isoTime(job.enqueuedAt ?? delivery.insertionTime);
}

function isoTime(value: Date | string | undefined): string {
  const date = value === undefined ? new Date() : new Date(value);
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}

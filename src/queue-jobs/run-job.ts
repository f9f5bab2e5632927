/**
 * One queue message, start to finish, for any queue pipeline (embeddings, speech, images): read
 * it, run the pipeline's work, and do what src/failure-actions.ts decides for a failure's kind:
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
 * A configuration failure (a 401/403 about the app's identity, a 404 about a deployment missing
 * from the resource, a pipeline turned off) is not about the message: the record holds no input
 * text, so completing the message would lose it. It is kept for retries and the poison queue,
 * from where it can be replayed once the app is fixed.
 */
import type { QueueClient } from "@azure/storage-queue";
import { AppError, BadInputError, classifyError, withHint } from "../errors.js";
import { failureActions } from "../failure-actions.js";
import type { Logger } from "../logging.js";
import { enqueuedAt, type QueueDelivery } from "./delivery.js";
import { JOB_IN_PROGRESS } from "./job-claim.js";
import type { JobErrorRecord, JobStore } from "./job-store.js";
import { readQueuePayload } from "./payload.js";
import { recordPipelineItem, recordQueueAge, type Pipeline } from "../metrics/index.js";

/** What a job carries whatever its pipeline: its output's id, and the original's enqueue time on a handed-back copy. */
export interface QueueJob {
  id: string;
  enqueuedAt?: string | undefined;
}

export interface JobRunContext {
  delivery: QueueDelivery;
  /** The output's createdAt: when the work was first enqueued. */
  createdAt: string;
}

/** One queue pipeline, as run-job needs it. */
export interface QueueJobPipeline<Job extends QueueJob, Done extends { id: string }> {
  /** The pipeline's name in the metrics (`pipeline.items`, `pipeline.queue_age`). */
  name: Pipeline;
  /**
   * Checks a message body against the pipeline's schema.
   * @throws BadInputError, whose `details.id` names the record when the message had a usable id.
   */
  parse(body: unknown, queueMessageId: string): Job;
  /** Does the work and writes its outputs. @throws anything: it is classified and decided on here. */
  run(job: Job, context: JobRunContext): Promise<Done>;
  /** The job as handed back: every field of the message, with `enqueuedAt` set. */
  handbackCopy(job: Job, enqueuedAt: string): object;
  /** Whether the output for `id` is there (a reference whose blob is gone may have been done). */
  hasOutput(id: string): Promise<boolean>;
  /** The outcome reported for work found already done. */
  alreadyDone(id: string): Done;
  /** Fields of the error record that come from the job (deployment, model, metadata). */
  recordFields(job: Job | undefined): Pick<JobErrorRecord, "deployment" | "model" | "metadata">;
}

export interface RunJobDependencies {
  store: JobStore;
  /** The pipeline's queue itself, to hand throttled work back as a fresh message. */
  queue: QueueClient;
  logger: Logger;
}

export type JobOutcome<Done> =
  Done | { status: "rejected"; id: string; reason: string } | { status: "requeued"; id: string; delayInMs: number };

/** Largest queue message Azure Storage accepts: 64 KiB of (here base64) text. */
const MAX_QUEUE_MESSAGE_CHARS = 64 * 1024;

/** Shortest delay before a handed-back message is visible again (queue visibility has 1 s steps). */
const MIN_REQUEUE_DELAY_IN_MS = 1000;

/**
 * Processes one delivery of a message of `pipeline`.
 * @throws AppError when the message should be retried by the host (failureActions' `retry`); a
 *   `retrying` error record has been written first, when storage allowed.
 */
export async function runQueueJob<Job extends QueueJob, Done extends { id: string }>(
  pipeline: QueueJobPipeline<Job, Done>,
  delivery: QueueDelivery,
  deps: RunJobDependencies,
): Promise<JobOutcome<Done>> {
  if (delivery.insertionTime !== undefined) recordQueueAge(pipeline.name, Date.now() - new Date(delivery.insertionTime).getTime());
  try {
    const outcome = await runJobDelivery(pipeline, delivery, deps);
    const status = (outcome as { status?: unknown }).status;
    recordPipelineItem(pipeline.name, status === "rejected" ? "rejected" : status === "requeued" ? "retried" : "processed");
    return outcome;
  } catch (error) {
    // Thrown: the host delivers the message again, or, after its last delivery, moves it to the poison queue.
    recordPipelineItem(pipeline.name, delivery.dequeueCount >= HOST_MAX_DEQUEUE_COUNT ? "poisoned" : "retried");
    throw error;
  }
}

/**
 * host.json's `extensions.queues.maxDequeueCount`: the delivery after which the host poisons a
 * message the app threw on (test/queue-jobs/run-job-metrics.test.ts checks it against host.json).
 */
export const HOST_MAX_DEQUEUE_COUNT = 5;

async function runJobDelivery<Job extends QueueJob, Done extends { id: string }>(
  pipeline: QueueJobPipeline<Job, Done>,
  delivery: QueueDelivery,
  deps: RunJobDependencies,
): Promise<JobOutcome<Done>> {
  let job: Job | undefined;
  let handback: string | undefined;
  // A reference names its work's id before the work is read, so a failure reading it is recorded there.
  let referenceId: string | undefined;
  try {
    const message = readQueuePayload(delivery.body);
    if (message.kind === "handback") {
      handback = message.blob;
      referenceId = message.id;
      const stored = await deps.store.readHandback(message.blob);
      if (stored === undefined) return await handbackGone(pipeline, message.id, delivery, deps);
      job = pipeline.parse(stored, delivery.messageId);
    } else {
      job = pipeline.parse(message.body, delivery.messageId);
    }
    const done = await pipeline.run(job, { delivery, createdAt: enqueuedAt(job, delivery) });
    if (mayHaveErrorRecord(job, delivery, handback)) await deps.store.clearError(job.id);
    if (handback) await deps.store.deleteHandback(handback);
    return done;
  } catch (thrown) {
    const error = classifyError(thrown);
    const id = job?.id ?? referenceId ?? idFromDetails(error) ?? delivery.messageId;
    const action = failureActions(error).queue;
    const record = (status: JobErrorRecord["status"]): JobErrorRecord => ({
      id,
      queueMessageId: delivery.messageId,
      status,
      kind: error.kind,
      code: error.code,
      param: error.param,
      reason: error.message,
      dequeueCount: delivery.dequeueCount,
      ...pipeline.recordFields(job),
      failedAt: new Date().toISOString(),
    });
    if (action === "reject") {
      await deps.store.writeError(record("rejected"));
      if (handback) await deps.store.deleteHandback(handback);
      deps.logger.warn(`Rejected message ${delivery.messageId} (${id}.error.json): ${error.message}`);
      return { status: "rejected", id, reason: error.message };
    }
    if (action === "hand_back" && job) {
      const delayInMs = Math.max(MIN_REQUEUE_DELAY_IN_MS, error.retryAfterInMs ?? 0);
      // Whoever waits for the output can see why it is late. Written before the copy exists, so
      // the copy's success always removes it (written after, a slow write could outlive the output).
      // Not for a duplicate of work another run is doing: that run's output needs no excuse, and its
      // success (a first delivery) would not know to remove the record.
      if (error.code !== JOB_IN_PROGRESS) {
        const waiting = record("retrying");
        waiting.reason = withHint(
          error.message,
          `A new message with the same work is visible on the queue in ${Math.ceil(delayInMs / 1000)} s.`,
        );
        await deps.store.writeError(waiting).catch((writeError: unknown) => {
          deps.logger.error(`Could not write ${id}.error.json: ${classifyError(writeError).message}`);
        });
      }
      try {
        await requeue(deps, pipeline.handbackCopy(job, enqueuedAt(job, delivery)), job.id, handback, delayInMs);
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
      await deps.store.writeError(record("retrying"));
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
async function requeue(deps: RunJobDependencies, copy: object, id: string, handback: string | undefined, delayInMs: number): Promise<void> {
  const send = (message: object) =>
    deps.queue.sendMessage(Buffer.from(JSON.stringify(message), "utf8").toString("base64"), {
      visibilityTimeout: Math.ceil(delayInMs / 1000),
    });
  if (handback) {
    await send({ id, handback });
    return;
  }
  if (base64Length(copy) <= MAX_QUEUE_MESSAGE_CHARS) {
    await send(copy);
    return;
  }
  const stored = await deps.store.writeHandback(copy);
  try {
    await send({ id, handback: stored });
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
async function handbackGone<Job extends QueueJob, Done extends { id: string }>(
  pipeline: QueueJobPipeline<Job, Done>,
  id: string,
  delivery: QueueDelivery,
  deps: RunJobDependencies,
): Promise<JobOutcome<Done>> {
  if (await pipeline.hasOutput(id)) {
    deps.logger.info(`Message ${delivery.messageId} refers to handed-back work for ${id} that is already done (${id}.json exists)`);
    return pipeline.alreadyDone(id);
  }
  // An earlier delivery rejected the work (and removed its blob): keep the record saying why.
  const earlier = await deps.store.readError(id);
  if (earlier?.status === "rejected") {
    deps.logger.info(`Message ${delivery.messageId} refers to handed-back work for ${id} that was already rejected (${id}.error.json)`);
    return { status: "rejected", id, reason: earlier.reason };
  }
  throw new BadInputError(
    `The message refers to handed-back work for ${id} whose blob no longer exists and whose output was never written; send the original message again`,
    { code: "handback_missing", details: { id } },
  );
}

/**
 * Whether `{id}.error.json` can exist, so removing it is worth a storage call (on the common path,
 * a message's first delivery under its queue-assigned id, it cannot): an earlier delivery of this
 * message, the message this copy was handed back for, or an earlier message with the same
 * user-chosen id may have left one.
 */
function mayHaveErrorRecord(job: QueueJob, delivery: QueueDelivery, handback: string | undefined): boolean {
  return delivery.dequeueCount > 1 || handback !== undefined || job.enqueuedAt !== undefined || job.id !== delivery.messageId;
}

function idFromDetails(error: AppError): string | undefined {
  const id = (error.details as { id?: unknown } | undefined)?.id;
  return typeof id === "string" ? id : undefined;
}

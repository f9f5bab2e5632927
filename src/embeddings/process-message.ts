/**
 * One embeddings queue message, start to finish: parse, embed, store. What each kind of failure
 * does to the message (reject, hand back, retry then poison) is the queue pipelines' shared rule,
 * src/queue-jobs/run-job.ts, where the table lives.
 */
import type { QueueClient } from "@azure/storage-queue";
import type { Logger } from "../logging.js";
import type { QueueDelivery } from "../queue-jobs/delivery.js";
import { runQueueJob, type QueueJobPipeline } from "../queue-jobs/run-job.js";
import { embedInputs, type EmbedInputsDependencies } from "./embed-inputs.js";
import { parseEmbeddingsMessage, requestedModel, type EmbeddingsJob } from "./message-schema.js";
import type { EmbeddingsStore } from "./result-store.js";

export type { QueueDelivery };

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

type Embedded = Extract<ProcessOutcome, { status: "embedded" }>;

/**
 * Processes one delivery of an embeddings message.
 * @throws AppError when the message should be retried by the host (failureActions' `retry`); a
 *   `retrying` error record has been written first, when storage allowed.
 */
export async function processEmbeddingsMessage(delivery: QueueDelivery, deps: ProcessMessageDependencies): Promise<ProcessOutcome> {
  const pipeline: QueueJobPipeline<EmbeddingsJob, Embedded> = {
    name: "embeddings",
    parse: parseEmbeddingsMessage,
    run: async (job, { createdAt }) => {
      const named = requestedModel(job);
      const result = await embedInputs(
        job.input,
        { ...(named ? { model: named.model, modelParam: named.param } : {}), dimensions: job.dimensions },
        { ...deps.embed, logger: deps.logger },
      );
      await deps.store.writeOutput({
        id: job.id,
        deployment: result.deployment,
        model: result.model,
        routing: { model: result.routedModel, backends: result.backends },
        dimensions: result.dimensions,
        usage: result.usage,
        items: result.items,
        metadata: job.metadata ?? {},
        createdAt,
      });
      deps.logger.info(
        `Embedded message ${delivery.messageId} as ${job.id}.json: ${result.items.length} vectors, ${result.usage.prompt_tokens} tokens, model ${result.routedModel} on ${result.backends.join(", ")}`,
      );
      return { status: "embedded", id: job.id, items: result.items.length, tokens: result.usage.prompt_tokens };
    },
    handbackCopy: (job, enqueuedAt) => {
      const copy: EmbeddingsJob = { id: job.id, input: job.input };
      if (job.dimensions !== undefined) copy.dimensions = job.dimensions;
      if (job.model !== undefined) copy.model = job.model;
      if (job.deployment !== undefined) copy.deployment = job.deployment;
      if (job.metadata !== undefined) copy.metadata = job.metadata;
      copy.enqueuedAt = enqueuedAt;
      return copy;
    },
    hasOutput: (id) => deps.store.hasOutput(id),
    alreadyDone: (id) => ({ status: "embedded", id, items: 0, tokens: 0 }),
    recordFields: (job) => ({
      deployment: job?.deployment,
      model: (job && requestedModel(job)?.model) ?? deps.embed.defaultModel,
      metadata: job?.metadata,
    }),
  };
  return runQueueJob(pipeline, delivery, deps);
}

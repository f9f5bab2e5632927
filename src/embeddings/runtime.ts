/**
 * The process-wide pieces of the embeddings pipeline, built once from the configuration: one
 * batcher per process over the process's router (so every queue invocation on the instance shares
 * requests and each backend's quota governor), the result store and the queue used to hand work back.
 */
import type { Config } from "../config.js";
import type { Logger } from "../logging.js";
import { retryPolicy } from "../openai/retry-policy.js";
import { getRouter } from "../routing/index.js";
import { getStorageClients } from "../storage/clients.js";
import { EmbeddingsBatcher } from "./batcher.js";
import type { EmbedInputsDependencies } from "./embed-inputs.js";
import type { ProcessMessageDependencies } from "./process-message.js";
import { EmbeddingsStore } from "./result-store.js";

let shared: { config: Config; batcher: EmbeddingsBatcher } | undefined;

/** The process's batcher for this configuration, created on first use. */
export function getSharedEmbeddingsBatcher(config: Config): EmbeddingsBatcher {
  if (shared?.config !== config) {
    const batcher = new EmbeddingsBatcher({
      router: getRouter(config.openai),
      maxInputsPerRequest: config.embeddings.maxInputsPerRequest,
      maxTokensPerRequest: config.embeddings.maxTokensPerRequest,
      maxWaitInMs: config.embeddings.maxWaitInMs,
      retry: retryPolicy(config, "embeddings"),
    });
    shared = { config, batcher };
  }
  return shared.batcher;
}

/**
 * Dependencies for embedInputs() under this configuration.
 * @param split true (queue) splits long inputs into chunks; false rejects them (as OpenAI's API does).
 */
export function embeddingsDependencies(config: Config, logger: Logger, options: { split: boolean }): EmbedInputsDependencies {
  return {
    batcher: getSharedEmbeddingsBatcher(config),
    router: getRouter(config.openai),
    logger,
    defaultModel: config.openai.deployments.embeddings,
    limits: {
      chunkTokens: config.embeddings.chunkTokens,
      overlapTokens: config.embeddings.chunkOverlapTokens,
      split: options.split,
    },
    throttleBudgetInMs: retryPolicy(config, "embeddings").throttleBudgetInMs,
  };
}

let store: { config: Config; store: EmbeddingsStore } | undefined;

/** Everything processEmbeddingsMessage() needs under this configuration. */
export async function queuePipelineDependencies(config: Config, logger: Logger): Promise<ProcessMessageDependencies> {
  const storage = await getStorageClients(config.storage, config.openai.managedIdentityAvailable);
  if (store?.config !== config) {
    store = { config, store: new EmbeddingsStore(storage.blobService.getContainerClient(config.embeddings.container)) };
  }
  const { logger: _unused, ...embed } = embeddingsDependencies(config, logger, { split: true });
  return {
    embed,
    store: store.store,
    queue: storage.queueService.getQueueClient(config.embeddings.queue),
    logger,
  };
}

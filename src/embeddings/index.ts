/**
 * The embeddings service: queue pipeline and the pieces the HTTP endpoint reuses.
 *
 * embedInputs() with embeddingsDependencies() embeds through the process's batcher, spread over the
 * backends of the named model:
 *   const result = await embedInputs(input, { model, dimensions, signal }, embeddingsDependencies(config, logger, { split: true }));
 * Validation failures are BadInputError (map by `kind` as everywhere). `POST /api/v1/embeddings`
 * does not batch: it forwards each request through the router (src/functions/embeddings-http.ts).
 */
export {
  embedInputs,
  type EmbedInputsOptions,
  type EmbedInputsDependencies,
  type EmbedInputsResult,
  type EmbeddingItem,
} from "./embed-inputs.js";
export {
  prepareInputs,
  validateDimensions,
  API_MAX_INPUTS,
  API_MAX_TOTAL_TOKENS,
  MODEL_MAX_INPUT_TOKENS,
  MAX_DIMENSIONS,
  type InputLimits,
  type PreparedChunk,
} from "./input-limits.js";
export { splitIntoChunks, type ChunkingOptions, type TextChunk } from "./chunking.js";
export { countTokens } from "./tokenizer.js";
export { EmbeddingsBatcher, type EmbeddingsBatcherOptions, type BatcherStats } from "./batcher.js";
export { QuotaGovernor } from "./quota-governor.js";
export { parseEmbeddingsMessage, embeddingsMessageSchema, type EmbeddingsMessage, type EmbeddingsJob } from "./message-schema.js";
export { processEmbeddingsMessage, type QueueDelivery, type ProcessOutcome, type ProcessMessageDependencies } from "./process-message.js";
export { EmbeddingsStore, outputBlobName, errorBlobName, type EmbeddingsOutput, type EmbeddingsErrorRecord } from "./result-store.js";
export { getSharedEmbeddingsBatcher, embeddingsDependencies, queuePipelineDependencies } from "./runtime.js";

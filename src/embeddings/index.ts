/**
 * The embeddings service: queue pipeline and the pieces the HTTP endpoint reuses.
 *
 * For `POST /api/v1/embeddings`:
 *   const result = await embedInputs(body.input, { deployment: body.model, dimensions: body.dimensions, signal },
 *     await embeddingsDependencies(config, logger, { split: false }));
 * Validation failures are BadInputError (map by `kind` as everywhere); `result.items` holds one
 * vector per input (`chunk` is always 0 without splitting).
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
  resolveDeployment,
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

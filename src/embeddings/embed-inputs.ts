/**
 * Validates, splits and embeds a list of inputs: the one entry point shared by the queue pipeline
 * and the synchronous HTTP endpoint, so both apply the same limits and share the same batcher (and
 * with it the deployment's quota governor).
 */
import type { Logger } from "../logging.js";
import type { EmbeddingsBatcher } from "./batcher.js";
import { prepareInputs, resolveDeployment, validateDimensions, type InputLimits } from "./input-limits.js";

export interface EmbedInputsOptions {
  /** Deployment to use; omitted means the default (the first of `deps.deployments`). */
  deployment?: string;
  /** Requested vector size (text-embedding-3 models only). */
  dimensions?: number;
  /** Cancels the work (an HTTP client that disconnected). */
  signal?: AbortSignal;
}

export interface EmbedInputsDependencies {
  batcher: EmbeddingsBatcher;
  logger: Logger;
  /** Deployments the caller may name; the first is the default. */
  deployments: readonly string[];
  limits: InputLimits;
  /** How long to wait out throttling before failing with a `throttled` AppError. */
  throttleBudgetInMs: number;
}

export interface EmbeddingItem {
  /** Index of the input this vector belongs to. */
  input: number;
  /** Index of the chunk within the input (0 unless the input was split). */
  chunk: number;
  /** Character range of the chunk in its input, end exclusive (UTF-16 code units). */
  start: number;
  end: number;
  embedding: number[];
}

export interface EmbedInputsResult {
  deployment: string;
  /** Model reported by Azure OpenAI. */
  model: string;
  /** Length of each vector. */
  dimensions: number;
  usage: { prompt_tokens: number; total_tokens: number };
  items: EmbeddingItem[];
}

/**
 * Embeds `input` (one text or many), splitting texts longer than the chunk size when
 * `deps.limits.split` is set.
 * @throws BadInputError for invalid inputs, an unknown deployment or bad dimensions (nothing is
 *   sent); AppError `throttled` when throttling outlasts the budget; `transient` for 5xx or lost
 *   connections after retries; `upstream_permanent` when Azure rejects the request.
 */
export async function embedInputs(
  input: string | readonly string[],
  options: EmbedInputsOptions,
  deps: EmbedInputsDependencies,
): Promise<EmbedInputsResult> {
  const deployment = resolveDeployment(options.deployment, deps.deployments);
  const dimensions = validateDimensions(options.dimensions);
  const chunks = prepareInputs(input, deps.limits);
  const { embeddings, model } = await deps.batcher.embed(
    chunks.map((chunk) => ({ text: chunk.text, tokens: chunk.tokens })),
    {
      deployment,
      dimensions,
      throttleDeadline: Date.now() + deps.throttleBudgetInMs,
      logger: deps.logger,
      signal: options.signal,
    },
  );
  const tokens = chunks.reduce((sum, chunk) => sum + chunk.tokens, 0);
  return {
    deployment,
    model,
    dimensions: embeddings[0]?.length ?? 0,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
    items: chunks.map((chunk, index) => ({
      input: chunk.input,
      chunk: chunk.chunk,
      start: chunk.start,
      end: chunk.end,
      embedding: embeddings[index]!,
    })),
  };
}

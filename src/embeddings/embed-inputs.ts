/**
 * Validates, splits and embeds a list of inputs: the queue pipeline's way to the shared batcher
 * (and with it each backend's quota governor). The synchronous HTTP endpoint applies the same
 * limits (src/http/embeddings-request.ts) but sends one request through the router itself.
 */
import { BadInputError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { Route, Router } from "../routing/index.js";
import type { EmbeddingsBatcher } from "./batcher.js";
import { prepareInputs, validateDimensions, type InputLimits } from "./input-limits.js";

export interface EmbedInputsOptions {
  /** The model (a name in the routing table serving embeddings); omitted means `deps.defaultModel`. */
  model?: string;
  /** The field that named the model, for the error when no such model serves embeddings. Default `model`. */
  modelParam?: string;
  /** Requested vector size (text-embedding-3 models only). */
  dimensions?: number;
  /** Cancels the work (an HTTP client that disconnected). */
  signal?: AbortSignal;
}

export interface EmbedInputsDependencies {
  batcher: EmbeddingsBatcher;
  /** Resolves the model to its backends (router.route). */
  router: Router;
  logger: Logger;
  /** The model used when none is named (AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT). */
  defaultModel: string;
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
  /** The routing table's model the inputs went to. */
  routedModel: string;
  /** The deployment of the first backend that served (the only one, unless the work spanned several requests). */
  deployment: string;
  /** Names of the backends whose answers hold the vectors, in the order of the chunks they first served. */
  backends: string[];
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
 * @throws BadInputError for invalid inputs, a model that does not serve embeddings
 *   (`model_not_found`) or bad dimensions (nothing is sent); AppError `throttled` when throttling outlasts the budget; `transient` for 5xx or lost
 *   connections after retries; `upstream_permanent` when Azure rejects the request.
 */
export async function embedInputs(
  input: string | readonly string[],
  options: EmbedInputsOptions,
  deps: EmbedInputsDependencies,
): Promise<EmbedInputsResult> {
  const route = resolveRoute(deps.router, options.model ?? deps.defaultModel, options.modelParam ?? "model");
  const dimensions = validateDimensions(options.dimensions);
  const chunks = prepareInputs(input, deps.limits);
  const { embeddings, model, backends } = await deps.batcher.embed(
    chunks.map((chunk) => ({ text: chunk.text, tokens: chunk.tokens })),
    {
      route,
      dimensions,
      throttleDeadline: Date.now() + deps.throttleBudgetInMs,
      logger: deps.logger,
      signal: options.signal,
    },
  );
  const tokens = chunks.reduce((sum, chunk) => sum + chunk.tokens, 0);
  return {
    routedModel: route.model,
    deployment: backends[0]?.deployment ?? route.backends[0]!.deployment,
    backends: backends.map((backend) => backend.name),
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

/** The model's embeddings backends. @throws BadInputError `model_not_found`, naming the field that named it. */
function resolveRoute(router: Router, model: string, param: string): Route {
  try {
    return router.route("embeddings", model);
  } catch (error) {
    if (error instanceof BadInputError && param !== "model") {
      throw new BadInputError(error.message, { param, ...(error.code ? { code: error.code } : {}) });
    }
    throw error;
  }
}

/**
 * Validation of what is to be embedded, shared by the queue pipeline and the HTTP endpoint:
 * the inputs themselves (count, emptiness, size), the deployment and the dimensions. Every
 * failure is a BadInputError naming the field at fault and how to fix it.
 */
import { BadInputError } from "../errors.js";
import { splitIntoChunks } from "./chunking.js";
import { countTokens } from "./tokenizer.js";

/** Azure OpenAI's limits for one embeddings request. */
export const API_MAX_INPUTS = 2048;
export const MODEL_MAX_INPUT_TOKENS = 8191;
export const API_MAX_TOTAL_TOKENS = 300_000;
/** text-embedding-3-large's native size; the largest `dimensions` any embeddings model accepts. */
export const MAX_DIMENSIONS = 3072;

export interface InputLimits {
  /** Most inputs in one message or HTTP request (default 2048, the API's own limit). */
  maxInputs?: number;
  /** Largest chunk in tokens (at most 8191). */
  chunkTokens: number;
  /** Tokens repeated between neighbouring chunks of a split input. */
  overlapTokens: number;
  /**
   * True (queue): inputs longer than `chunkTokens` are split into chunks. False (an
   * OpenAI-compatible HTTP endpoint): they are rejected, as the API itself would.
   */
  split: boolean;
  /** Most tokens over all inputs (default 300,000, the API's per-request limit). */
  maxTotalTokens?: number;
}

/** One piece of text to embed, and where it came from. */
export interface PreparedChunk {
  /** Index of the input it came from. */
  input: number;
  /** Index of the chunk within that input (0 when the input was not split). */
  chunk: number;
  /** Character range in the input, end exclusive (UTF-16 code units). */
  start: number;
  end: number;
  text: string;
  tokens: number;
}

/**
 * Checks inputs against the limits and splits long ones into chunks.
 * @throws BadInputError (`param` = `input` or `input[i]`) when there are no inputs, too many,
 *   an empty one, one too long to embed without splitting, or more tokens in total than allowed.
 */
export function prepareInputs(input: string | readonly string[], limits: InputLimits): PreparedChunk[] {
  const inputs = typeof input === "string" ? [input] : input;
  const maxInputs = limits.maxInputs ?? API_MAX_INPUTS;
  const maxTotalTokens = limits.maxTotalTokens ?? API_MAX_TOTAL_TOKENS;
  const chunkTokens = Math.min(limits.chunkTokens, MODEL_MAX_INPUT_TOKENS);
  if (inputs.length === 0) {
    throw new BadInputError("`input` is an empty array; give at least one text to embed", { code: "empty_input", param: "input" });
  }
  if (inputs.length > maxInputs) {
    throw new BadInputError(
      `\`input\` has ${inputs.length} texts; at most ${maxInputs} are accepted at once, so split them over several messages or requests`,
      {
        code: "too_many_inputs",
        param: "input",
      },
    );
  }
  const prepared: PreparedChunk[] = [];
  let totalTokens = 0;
  inputs.forEach((text, index) => {
    const param = typeof input === "string" ? "input" : `input[${index}]`;
    if (typeof text !== "string") {
      throw new BadInputError(`\`${param}\` must be a string`, { code: "invalid_input", param });
    }
    if (text.trim().length === 0) {
      throw new BadInputError(`\`${param}\` is empty or only whitespace; remove it or give text to embed`, { code: "empty_input", param });
    }
    if (!limits.split) {
      const tokens = countTokens(text);
      if (tokens > chunkTokens) {
        throw new BadInputError(
          `\`${param}\` has ${tokens} tokens, more than the ${chunkTokens} one input may have; shorten it or split it into several inputs`,
          { code: "input_too_long", param },
        );
      }
      prepared.push({ input: index, chunk: 0, start: 0, end: text.length, text, tokens });
      totalTokens += tokens;
    } else {
      splitIntoChunks(text, { chunkTokens, overlapTokens: Math.min(limits.overlapTokens, chunkTokens - 1) }).forEach(
        (chunk, chunkIndex) => {
          prepared.push({ input: index, chunk: chunkIndex, ...chunk });
          totalTokens += chunk.tokens;
        },
      );
    }
    if (totalTokens > maxTotalTokens) {
      throw new BadInputError(
        `The inputs have more than ${maxTotalTokens} tokens in total (the limit for one message or request); send them in several parts`,
        { code: "too_many_tokens", param: "input" },
      );
    }
  });
  return prepared;
}

/**
 * Checks a requested vector size.
 * @throws BadInputError (param `dimensions`) unless it is a whole number from 1 to 3072.
 */
export function validateDimensions(dimensions: unknown): number | undefined {
  if (dimensions === undefined || dimensions === null) return undefined;
  if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
    throw new BadInputError(
      `\`dimensions\` must be a whole number from 1 to ${MAX_DIMENSIONS} (got ${JSON.stringify(dimensions)}); ` +
        "omit it to get the model's full size (only text-embedding-3 models accept it)",
      { code: "invalid_dimensions", param: "dimensions" },
    );
  }
  return dimensions;
}

/**
 * The embeddings operation: checks the request as Azure does (input forms, 2048 inputs, the
 * model's token limit, `dimensions`, `encoding_format`) and answers deterministic unit vectors in
 * which texts sharing words lie closer together, so similarity-based code sees sensible results
 * and the same text always gets the same vector. Usage counts the real prompt tokens.
 */
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { invalidRequest } from "./errors.js";
import { Random } from "./random.js";
import { tokenizerFor } from "./tokens.js";

const MAX_INPUTS = 2048;
const DEFAULT_MAX_INPUT_TOKENS = 8191;
const WORD_WEIGHT = 1;
// The whole text adds a small component of its own, so texts made of the same words differ a little.
const TEXT_WEIGHT = 0.35;
const CACHE_LIMIT = 4096;

function nativeDimensions(deployment: DeploymentConfig): number {
  if (deployment.dimensions) return deployment.dimensions;
  return /large/.test(deployment.model) ? 3072 : 1536;
}

const wordCache = new Map<string, Float32Array>();

/** A fixed pseudo-random direction per word (and length), cached because words repeat. */
function wordVector(word: string, dims: number): Float32Array {
  const key = `${dims}:${word}`;
  let vector = wordCache.get(key);
  if (vector) return vector;
  const random = new Random(`embedding:${word}`);
  vector = new Float32Array(dims);
  for (let i = 0; i < dims; i++) vector[i] = random.next() * 2 - 1;
  if (wordCache.size >= CACHE_LIMIT) wordCache.delete(wordCache.keys().next().value as string);
  wordCache.set(key, vector);
  return vector;
}

/**
 * A deterministic unit vector for a text: the sum of its words' directions plus a little of its
 * own, so texts that share words are closer than texts that don't. The first `dims` components
 * are the same whatever `dims` is, then renormalised, as text-embedding-3 shortens.
 */
export function embed(text: string, nativeDims: number, dims: number): Float64Array {
  const out = new Float64Array(dims);
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  for (const word of words) {
    const vector = wordVector(word, nativeDims);
    for (let i = 0; i < dims; i++) out[i]! += WORD_WEIGHT * vector[i]!;
  }
  const own = new Random(`embedding-text:${text}`);
  const scale = words.length ? TEXT_WEIGHT * Math.sqrt(words.length) : 1;
  for (let i = 0; i < dims; i++) out[i]! += scale * (own.next() * 2 - 1);
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += out[i]! * out[i]!;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dims; i++) out[i]! /= norm;
  return out;
}

/**
 * The vector as JSON text, 8 decimals. `join` prints finite numbers exactly as JSON does, at less
 * than half JSON.stringify's cost on 1536 floats, which dominated the simulator's embeddings time.
 */
function vectorJson(vector: Float64Array): string {
  const rounded = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) rounded[i] = Math.round(vector[i]! * 1e8) / 1e8;
  return "[" + rounded.join(",") + "]";
}

/**
 * Validates an embeddings request: input string, array of strings, or token arrays; at most 2048
 * inputs of at most 8191 tokens; `dimensions`; `encoding_format`.
 * @throws SimulatorHttpError 400 in OpenAI's shape.
 */
export function prepareEmbeddings(body: Record<string, unknown>, deployment: DeploymentConfig): Prepared {
  const raw = body.input;
  if (raw === undefined || raw === null)
    throw invalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
  let inputs: string[];
  if (typeof raw === "string") inputs = [raw];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((item) => typeof item === "string")) inputs = raw as string[];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((item) => typeof item === "number")) inputs = [(raw as number[]).join(" ")];
  else if (
    Array.isArray(raw) &&
    raw.length > 0 &&
    raw.every((item) => Array.isArray(item) && item.every((tokenId) => typeof tokenId === "number"))
  )
    inputs = (raw as number[][]).map((tokenIds) => tokenIds.join(" "));
  else if (Array.isArray(raw) && raw.length === 0)
    throw invalidRequest(
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
      "input",
      "invalid_value",
    );
  else
    throw invalidRequest(
      "Invalid type for 'input': expected a string, an array of strings, or an array of token arrays.",
      "input",
      "invalid_type",
    );
  if (inputs.length > MAX_INPUTS)
    throw invalidRequest(
      `Too many inputs. The max number of inputs is ${MAX_INPUTS}. We recommend sending your inputs in batches.`,
      "input",
      "invalid_value",
    );
  if (inputs.some((input) => input === ""))
    throw invalidRequest("'$.input' is invalid: inputs must not be empty strings.", "input", "invalid_value");

  const native = nativeDimensions(deployment);
  const requested = body.dimensions;
  let dims = native;
  if (requested !== undefined && requested !== null) {
    if (/ada-002/.test(deployment.model)) throw invalidRequest("This model does not support specifying dimensions.", "dimensions", null);
    if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 1 || requested > native)
      throw invalidRequest(
        `Invalid 'dimensions': expected an integer between 1 and ${native}, but got ${String(requested)}.`,
        "dimensions",
        "invalid_value",
      );
    dims = requested;
  }
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64")
    throw invalidRequest(
      `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`,
      "encoding_format",
      "invalid_value",
    );

  const tokenizer = tokenizerFor(deployment.model);
  const max = deployment.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  let promptTokens = 0;
  inputs.forEach((input, i) => {
    const inputTokens = Array.isArray(raw) && Array.isArray(raw[i]) ? (raw[i] as number[]).length : tokenizer.count(input);
    if (inputTokens > max)
      throw invalidRequest(
        `This model's maximum context length is ${max} tokens, however you requested ${inputTokens} tokens (${inputTokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
        "input",
        null,
      );
    promptTokens += inputTokens;
  });

  return {
    chargeTokens: promptTokens,
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(ctx.latency.embeddingsMs) + ctx.faults.delayMs))) return;
      const data = inputs.map((text, index) => {
        const vector = embed(text, native, dims);
        const embedding =
          format === "base64" ? JSON.stringify(Buffer.from(Float32Array.from(vector).buffer).toString("base64")) : vectorJson(vector);
        return `{"object":"embedding","index":${index},"embedding":${embedding}}`;
      });
      ctx.recordUsage(promptTokens, 0);
      const rest = JSON.stringify({ model: deployment.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
      ctx.sendBytes(200, "application/json", `{"object":"list","data":[${data.join(",")}],${rest.slice(1)}`);
    },
  };
}

/**
 * The embeddings request as this app accepts it (OpenAI's schema), checked with the same rules
 * and limits as the queue pipeline (src/embeddings/input-limits.ts), except that an input over
 * the token limit is refused rather than split, as the OpenAI API itself does.
 */
import { modelsFor } from "../routing/models.js";
import { z } from "zod";
import type { Config } from "../config.js";
import { BadInputError } from "../errors.js";
import { MODEL_MAX_INPUT_TOKENS, prepareInputs, validateDimensions } from "../embeddings/input-limits.js";
import { resolveDeployment } from "./chat-request.js";
import { validateBody } from "./validation.js";

const tokenIds = z.array(z.number().int().min(0));

export const embeddingsRequestSchema = z.looseObject({
  model: z.string().optional(),
  input: z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)], {
    error: "must be a string, an array of strings, an array of token ids or an array of such arrays",
  }),
  encoding_format: z.enum(["float", "base64"], { error: "must be float or base64" }).optional(),
  dimensions: z.unknown().optional(),
  user: z.string().optional(),
});

export interface EmbeddingsRequest {
  deployment: string;
  input: string | string[] | number[] | number[][];
  encodingFormat: "float" | "base64" | undefined;
  dimensions: number | undefined;
  user: string | undefined;
}

/**
 * Validates an embeddings body and resolves its deployment.
 * @throws BadInputError naming the field at fault: wrong types, `model_not_found`, no/too many/empty
 *   inputs, an input over the token limit, too many tokens in total, bad `dimensions`.
 */
export function parseEmbeddingsRequest(json: unknown, config: Pick<Config, "openai" | "embeddings">): EmbeddingsRequest {
  const body = validateBody(embeddingsRequestSchema, json);
  const deployment = resolveDeployment(body.model, modelsFor(config.openai, "embeddings"), "embeddings");
  const limits = {
    maxInputs: config.embeddings.maxInputsPerRequest,
    maxTotalTokens: config.embeddings.maxTokensPerRequest,
    chunkTokens: config.embeddings.chunkTokens,
    overlapTokens: 0,
    split: false,
  };
  if (isTokenInput(body.input)) checkTokenInputs(body.input, limits);
  else prepareInputs(body.input, limits);
  return {
    deployment,
    input: body.input,
    encodingFormat: body.encoding_format,
    dimensions: validateDimensions(body.dimensions),
    user: body.user,
  };
}

function isTokenInput(input: unknown): input is number[] | number[][] {
  return Array.isArray(input) && input.length > 0 && typeof input[0] !== "string";
}

/** Token-id inputs get the same count and size checks as text (their token count is their length). */
function checkTokenInputs(input: number[] | number[][], limits: { maxInputs: number; maxTotalTokens: number; chunkTokens: number }): void {
  const inputs = typeof input[0] === "number" ? [input as number[]] : (input as number[][]);
  const maxTokens = Math.min(limits.chunkTokens, MODEL_MAX_INPUT_TOKENS);
  if (inputs.length > limits.maxInputs) {
    throw new BadInputError(
      `'input' has ${inputs.length} inputs; at most ${limits.maxInputs} are accepted at once, so split them over several requests`,
      {
        param: "input",
        code: "too_many_inputs",
      },
    );
  }
  let total = 0;
  inputs.forEach((tokens, index) => {
    const param = inputs.length === 1 && typeof input[0] === "number" ? "input" : `input[${index}]`;
    if (tokens.length === 0) throw new BadInputError(`'${param}' is an empty token array; remove it`, { param, code: "empty_input" });
    if (tokens.length > maxTokens) {
      throw new BadInputError(`'${param}' has ${tokens.length} tokens, more than the ${maxTokens} one input may have; shorten it`, {
        param,
        code: "input_too_long",
      });
    }
    total += tokens.length;
  });
  if (total > limits.maxTotalTokens) {
    throw new BadInputError(`The inputs have ${total} tokens in total, more than ${limits.maxTotalTokens}; send them in several requests`, {
      param: "input",
      code: "too_many_tokens",
    });
  }
}

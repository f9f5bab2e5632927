/**
 * The legacy completions request as this app accepts it (OpenAI's /completions body), checked so
 * that malformed input is answered 400 with the field named, while unknown fields pass through.
 */
import { z } from "zod";
import { BadInputError } from "../errors.js";
import { resolveDeployment } from "../http/chat-request.js";
import { integerIn, numberIn, validateBody } from "../http/validation.js";

const tokenIds = z.array(z.number().int().min(0));

export const completionsRequestSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)], {
    error: "must be a string, an array of strings, an array of token ids or an array of such arrays",
  }),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: integerIn(0, 1_000_000).nullable().optional(),
  n: integerIn(1, 128).nullable().optional(),
  best_of: integerIn(0, 20).nullable().optional(),
  logprobs: integerIn(0, 5).nullable().optional(),
  echo: z.boolean().nullable().optional(),
  temperature: numberIn(0, 2).nullable().optional(),
  top_p: numberIn(0, 1).nullable().optional(),
  presence_penalty: numberIn(-2, 2).nullable().optional(),
  frequency_penalty: numberIn(-2, 2).nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)], { error: "must be a string or an array of up to 4 strings" })
    .nullable()
    .optional(),
  seed: z.number().int({ error: "must be an integer" }).nullable().optional(),
  suffix: z.string().nullable().optional(),
  user: z.string().optional(),
});

export interface CompletionsRequest {
  deployment: string;
  stream: boolean;
  includeUsage: boolean;
  /** The body to forward, minus `model`, `stream` and `stream_options` (set by us). */
  body: Record<string, unknown>;
}

/**
 * @throws BadInputError naming the field at fault, or `model_not_found` for another model.
 */
export function parseCompletionsRequest(json: unknown, models: readonly string[]): CompletionsRequest {
  const { model, stream, stream_options: streamOptions, ...body } = validateBody(completionsRequestSchema, json);
  if (stream !== true && streamOptions)
    throw new BadInputError("'stream_options' is only allowed when 'stream' is true", { param: "stream_options", code: "invalid_value" });
  return {
    deployment: resolveDeployment(model, models, "completions"),
    stream: stream === true,
    includeUsage: streamOptions?.include_usage === true,
    body,
  };
}

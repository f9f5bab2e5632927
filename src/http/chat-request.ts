/**
 * The chat completions request as this app accepts it: OpenAI's schema, checked strictly enough
 * that malformed input is answered 400 by us (with the field named) instead of reaching Azure,
 * and loosely enough that fields we don't know (new OpenAI/Azure options) pass through unchanged.
 */
import { z } from "zod";
import { BadInputError } from "../errors.js";
import { integerIn, numberIn, validateBody } from "./validation.js";

const ROLES = ["system", "developer", "user", "assistant", "tool", "function"] as const;

const contentPart = z
  .looseObject({
    type: z.enum(["text", "image_url", "input_audio", "file", "refusal"], {
      error: "must be one of text, image_url, input_audio, file, refusal",
    }),
    text: z.string().optional(),
    image_url: z
      .looseObject({
        url: z.string().min(1, { error: "must be an http(s) URL or a data: URL" }),
        detail: z.enum(["auto", "low", "high"], { error: "must be one of auto, low, high" }).optional(),
      })
      .optional(),
  })
  .superRefine((part, ctx) => {
    if (part.type === "text" && typeof part.text !== "string") {
      ctx.addIssue({ code: "custom", path: ["text"], message: "is required for a part of type text (a string)" });
    }
    if (part.type === "image_url" && !part.image_url) {
      ctx.addIssue({
        code: "custom",
        path: ["image_url"],
        message: 'is required for a part of type image_url, e.g. {"url":"https://..."}',
      });
    }
  });

const content = z.union([z.string(), z.array(contentPart)], {
  error: 'must be a string or an array of content parts (e.g. [{"type":"text","text":"Hi"}])',
});

const toolCall = z.looseObject({
  id: z.string(),
  type: z.string(),
  function: z.looseObject({ name: z.string(), arguments: z.string() }).optional(),
});

const message = z
  .looseObject({
    role: z.enum(ROLES, { error: `must be one of ${ROLES.join(", ")}` }),
    content: content.nullable().optional(),
    name: z.string().optional(),
    tool_calls: z.array(toolCall).optional(),
    tool_call_id: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    const hasContent = m.content !== undefined && m.content !== null;
    if ((m.role === "system" || m.role === "developer" || m.role === "user" || m.role === "tool") && !hasContent) {
      ctx.addIssue({ code: "custom", path: ["content"], message: `is required for a message with role ${m.role}` });
    }
    if (m.role === "assistant" && !hasContent && !m.tool_calls?.length) {
      ctx.addIssue({ code: "custom", path: ["content"], message: "is required for an assistant message without tool_calls" });
    }
    if (m.role === "tool" && m.tool_call_id === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["tool_call_id"],
        message: "is required for a message with role tool (the id of the assistant's tool call it answers)",
      });
    }
  });

const tool = z.looseObject({
  type: z.string(),
  function: z
    .looseObject({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be 1-64 letters, digits, '_' or '-'" }),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    })
    .optional(),
});

export const chatRequestSchema = z.looseObject({
  model: z.string().optional(),
  messages: z.array(message).min(1, { error: 'needs at least one message, e.g. [{"role":"user","content":"Hello"}]' }),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  tools: z.array(tool).optional(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.string() })], {
      error: 'must be "none", "auto", "required" or {"type":"function","function":{"name":"..."}}',
    })
    .optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: z
    .looseObject({
      type: z.enum(["text", "json_object", "json_schema"], { error: "must be one of text, json_object, json_schema" }),
      json_schema: z.looseObject({ name: z.string() }).optional(),
    })
    .optional(),
  seed: z.number().int({ error: "must be an integer" }).nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)], { error: "must be a string or an array of up to 4 strings" })
    .nullable()
    .optional(),
  max_tokens: integerIn(1, 1_000_000).nullable().optional(),
  max_completion_tokens: integerIn(1, 1_000_000).nullable().optional(),
  n: integerIn(1, 128).nullable().optional(),
  temperature: numberIn(0, 2).nullable().optional(),
  top_p: numberIn(0, 1).nullable().optional(),
  presence_penalty: numberIn(-2, 2).nullable().optional(),
  frequency_penalty: numberIn(-2, 2).nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: integerIn(0, 20).nullable().optional(),
  user: z.string().optional(),
});

export type ChatRequestBody = z.output<typeof chatRequestSchema>;

export interface ChatRequest {
  /** The Azure deployment to call (the request's `model`, or the default chat deployment). */
  deployment: string;
  stream: boolean;
  includeUsage: boolean;
  /** The body to forward, minus the fields this app sets itself (`model`, `stream`, `stream_options`). */
  body: Omit<ChatRequestBody, "model" | "stream" | "stream_options">;
}

/**
 * Validates a chat completions body and resolves its deployment.
 * @param chatDeployments the deployments that serve chat; the first is the default when `model` is absent.
 * @throws BadInputError naming the field at fault, or `model_not_found` for a model not configured here.
 */
export function parseChatRequest(json: unknown, chatDeployments: readonly string[]): ChatRequest {
  const { model, stream, stream_options: streamOptions, ...body } = validateBody(chatRequestSchema, json);
  if (stream !== true && streamOptions) {
    throw new BadInputError("'stream_options' is only allowed when 'stream' is true", { param: "stream_options", code: "invalid_value" });
  }
  return {
    deployment: resolveDeployment(model, chatDeployments, "chat completions"),
    stream: stream === true,
    includeUsage: streamOptions?.include_usage === true,
    body,
  };
}

/**
 * The deployment for `model`: the default (first) when absent, else it must be configured.
 * @throws BadInputError with code `model_not_found` listing the models this endpoint serves.
 */
export function resolveDeployment(model: string | undefined, deployments: readonly string[], endpoint: string): string {
  if (model === undefined || model === "") {
    const fallback = deployments[0];
    if (fallback === undefined) throw new Error(`No deployment is configured for ${endpoint}`);
    return fallback;
  }
  if (!deployments.includes(model)) {
    throw new BadInputError(
      `The model '${model}' is not available for ${endpoint}; use ${deployments.map((d) => `'${d}'`).join(" or ")} ` +
        `(GET /api/v1/models lists every deployment), or omit 'model' to use the default`,
      { param: "model", code: "model_not_found" },
    );
  }
  return model;
}

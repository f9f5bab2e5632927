/**
 * The Responses API's create request as this app accepts it (POST /api/v1/responses): OpenAI's
 * schema, checked strictly enough that malformed input is answered 400 by us with the field named,
 * and loosely enough that fields we don't know (new OpenAI/Azure options) pass through unchanged.
 * `model` names a chat deployment, as for chat completions.
 */
import { z } from "zod";
import { BadInputError } from "../errors.js";
import { resolveDeployment } from "../http/chat-request.js";
import { integerIn, numberIn, validateBody } from "../http/validation.js";

const ROLES = ["user", "assistant", "system", "developer"] as const;

/** An input item: a message (`type` "message" or omitted, with a role), or another typed item (function_call_output, ...). */
const inputItem = z.looseObject({ type: z.string().optional(), role: z.string().optional() }).superRefine((item, ctx) => {
  const isMessage = item.type === undefined || item.type === "message";
  if (isMessage && !ROLES.includes(item.role as (typeof ROLES)[number])) {
    ctx.addIssue({ code: "custom", path: ["role"], message: `must be one of ${ROLES.join(", ")} for a message item` });
  }
  if (isMessage && !("content" in item)) {
    ctx.addIssue({ code: "custom", path: ["content"], message: "is required for a message item (a string or an array of input parts)" });
  }
  if (item.type === "function_call_output" && (typeof item.call_id !== "string" || typeof item.output !== "string")) {
    ctx.addIssue({
      code: "custom",
      path: [typeof item.call_id !== "string" ? "call_id" : "output"],
      message: "is required for a function_call_output item (the call_id of the function_call it answers, and its output as a string)",
    });
  }
});

const tool = z.looseObject({
  type: z.string(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be 1-64 letters, digits, '_' or '-'" })
    .optional(),
});

export const responsesRequestSchema = z.looseObject({
  model: z.string().optional(),
  input: z
    .union([z.string(), z.array(inputItem)], {
      error: 'must be a string or an array of input items (e.g. [{"role":"user","content":"Hello"}])',
    })
    .optional(),
  instructions: z.string().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  tools: z.array(tool).optional(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.string() })], {
      error: 'must be "none", "auto", "required" or {"type":"function","name":"..."}',
    })
    .optional(),
  text: z
    .looseObject({
      format: z
        .looseObject({
          type: z.enum(["text", "json_object", "json_schema"], { error: "must be one of text, json_object, json_schema" }),
        })
        .optional(),
    })
    .optional(),
  max_output_tokens: integerIn(1, 1_000_000).nullable().optional(),
  previous_response_id: z.string().min(1).nullable().optional(),
  store: z.boolean().nullable().optional(),
  temperature: numberIn(0, 2).nullable().optional(),
  top_p: numberIn(0, 1).nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  user: z.string().optional(),
});

export type ResponsesRequestBody = z.output<typeof responsesRequestSchema>;

export interface ResponsesRequest {
  /** The Azure deployment to call (the request's `model`, or the default chat deployment). */
  deployment: string;
  stream: boolean;
  /** The body to forward, minus the fields this app sets itself (`model`, `stream`). */
  body: Omit<ResponsesRequestBody, "model" | "stream">;
}

/**
 * Validates a Responses API create body and resolves its deployment.
 * @param deployments the deployments that serve chat; the first is the default when `model` is absent.
 * @throws BadInputError naming the field at fault, or `model_not_found` for a model not configured here.
 */
export function parseResponsesRequest(json: unknown, deployments: readonly string[]): ResponsesRequest {
  const { model, stream, ...body } = validateBody(responsesRequestSchema, json);
  if (body.input === undefined && !body.previous_response_id) {
    throw new BadInputError("'input' is required (a string or an array of input items) unless 'previous_response_id' is given", {
      param: "input",
      code: "missing_required_parameter",
    });
  }
  return { deployment: resolveDeployment(model, deployments, "responses"), stream: stream === true, body };
}

/**
 * A response id from the route, checked before it is put into an upstream URL.
 * @throws BadInputError when it is not an id OpenAI or Azure would issue.
 */
export function parseResponseId(id: string | undefined): string {
  if (!id || !/^[A-Za-z0-9_-]{1,200}$/.test(id)) {
    throw new BadInputError(`'${id ?? ""}' is not a response id (ids look like resp_...; letters, digits, '_' and '-')`, {
      param: "response_id",
      code: "invalid_value",
    });
  }
  return id;
}

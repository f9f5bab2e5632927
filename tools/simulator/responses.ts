/**
 * The Responses API's create operation (POST /openai/v1/responses, /openai/responses?api-version=):
 * checks a request as the service does (unknown parameters, input items, instructions, function
 * tools and tool_choice, text.format, max_output_tokens, store, previous_response_id), answers it
 * with the same model as chat completions (generator, token counts, latency, faults, quota), and
 * writes it in the Responses shapes: a response object, or OpenAI's typed SSE events with
 * sequence numbers. Stored responses are kept for GET, input_items and DELETE (responses-routes.ts).
 */
import type { Prepared, RequestContext } from "./context.js";
import { isObject, type DeploymentConfig } from "./deployments.js";
import { contentFilterError, invalidRequest } from "./errors.js";
import {
  functionToCall,
  generateCall,
  generateText,
  modelName,
  tokenLogprobs,
  type FunctionDeclaration,
  type GeneratedCall,
  type GeneratedText,
  type OutputFormat,
  type ToolChoice,
} from "./generation.js";
import { STREAM_ERROR_MESSAGE, answerDelayMs, nextStep, streamPace } from "./pacing.js";
import { boolParam, intParam, numberParam, stringParam } from "./params.js";
import { Random, digest } from "./random.js";
import { asChatMessages, checkCallOutputs, inputItems, itemId, type ConversationItem } from "./responses-input.js";
import { conversationThrough, type ResponseStore, type StoredResponse } from "./responses-store.js";
import { countChatPromptTokens, tokenizerFor, type Tokenizer } from "./tokens.js";

const DEFAULT_CONTEXT_WINDOW = 128_000;

/** Every parameter of OpenAI's CreateResponse; anything else is refused, as the service refuses it. */
const KNOWN_PARAMETERS = new Set([
  "model",
  "input",
  "instructions",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "max_output_tokens",
  "max_tool_calls",
  "temperature",
  "top_p",
  "top_logprobs",
  "text",
  "store",
  "stream",
  "stream_options",
  "previous_response_id",
  "metadata",
  "user",
  "safety_identifier",
  "prompt_cache_key",
  "prompt_cache_retention",
  "service_tier",
  "truncation",
  "reasoning",
  "include",
  "background",
  "conversation",
  "prompt",
  "context_management",
]);

/** CreateResponse parameters the service takes that the simulator cannot honour: refused rather than ignored. */
const UNSIMULATED_PARAMETERS: Record<string, string> = {
  background: "background responses",
  conversation: "the Conversations API",
  prompt: "prompt templates",
  context_management: "context management",
};

const INCLUDABLE = [
  "file_search_call.results",
  "web_search_call.results",
  "web_search_call.action.sources",
  "message.input_image.image_url",
  "computer_call_output.output.image_url",
  "code_interpreter_call.outputs",
  "reasoning.encrypted_content",
  "message.output_text.logprobs",
];

type Status = "completed" | "incomplete";

/** What the model answers: a message (its text and, when asked, log probabilities) or a function call. */
type PlannedOutput =
  { type: "message"; text: GeneratedText; logprobs: ReturnType<typeof tokenLogprobs> } | { type: "function_call"; call: GeneratedCall };

interface ResponsePlan {
  stream: boolean;
  store: boolean;
  inputTokens: number;
  outputTokens: number;
  /** This request's own input items, as stored and listed. */
  input: ConversationItem[];
  previous: StoredResponse | undefined;
  /** The request's settings as the response object repeats them. */
  settings: Record<string, unknown>;
  output: PlannedOutput;
  status: Status;
  incompleteReason?: "max_output_tokens" | "content_filter";
}

/**
 * Validates a create-response request and computes its answer up front (so the token estimate and
 * the answer are ready before the latency model starts).
 * @throws SimulatorHttpError 400 in OpenAI's shape for anything the service would refuse; 404 for
 * an unknown `previous_response_id`; Azure's content filter 400 under the `content-filter` fault.
 */
export function prepareResponse(
  body: Record<string, unknown>,
  deployment: DeploymentConfig,
  seed: number,
  random: Random,
  store: ResponseStore,
  faults: { contentFilter: boolean; finishContentFilterAfterTokens?: number },
): Prepared {
  for (const key of Object.keys(body)) {
    if (!KNOWN_PARAMETERS.has(key)) throw invalidRequest(`Unknown parameter: '${key}'.`, key, "unknown_parameter");
    const unsimulated = UNSIMULATED_PARAMETERS[key];
    if (unsimulated && body[key] !== null && body[key] !== undefined && body[key] !== false)
      throw invalidRequest(`The simulator does not simulate ${unsimulated} ('${key}').`, key, "unsupported_parameter");
  }

  const stream = boolParam(body, "stream") ?? false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!stream)
      throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value");
    if (!isObject(body.stream_options))
      throw invalidRequest("Invalid type for 'stream_options': expected an object.", "stream_options", "invalid_type");
  }
  const keep = boolParam(body, "store") ?? true;
  const instructions = stringParam(body, "instructions");
  const maxOutputTokens = intParam(body, "max_output_tokens", 16, 1_000_000);
  const maxToolCalls = intParam(body, "max_tool_calls", 1, 1_000_000);
  const temperature = numberParam(body, "temperature", 0, 2);
  const topP = numberParam(body, "top_p", 0, 1);
  const topLogprobs = intParam(body, "top_logprobs", 0, 20);
  const parallelToolCalls = boolParam(body, "parallel_tool_calls") ?? true;
  const metadata = checkMetadata(body.metadata);
  const truncation = body.truncation ?? "disabled";
  if (truncation !== "auto" && truncation !== "disabled")
    throw invalidRequest(
      `Invalid value: '${String(truncation)}'. Supported values are: 'auto' and 'disabled'.`,
      "truncation",
      "invalid_value",
    );
  if (body.reasoning !== undefined && body.reasoning !== null && !isObject(body.reasoning))
    throw invalidRequest("Invalid type for 'reasoning': expected an object.", "reasoning", "invalid_type");
  const include = checkInclude(body.include);
  for (const key of ["user", "safety_identifier", "prompt_cache_key", "service_tier"]) stringParam(body, key);

  const { functions, echoed: tools } = checkTools(body.tools);
  const { choice, callable, echoed: toolChoice } = checkToolChoice(body.tool_choice, functions);
  const { format, echoed: text } = checkText(body.text);

  // The conversation: what the previous response saw and said, then this input.
  const previousId = stringParam(body, "previous_response_id");
  const previous = previousId === undefined ? undefined : store.get(previousId);
  if (previousId !== undefined && !previous)
    throw invalidRequest(
      `Previous response with id '${previousId}' not found.`,
      "previous_response_id",
      "previous_response_not_found",
      404,
    );
  if ((body.input === undefined || body.input === null) && !previous)
    throw invalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
  const input = body.input === undefined || body.input === null ? [] : inputItems(body.input, random);
  let context = [...(previous ? conversationThrough(previous) : []), ...input];
  checkCallOutputs(context);
  if (format === "json_object" && !JSON.stringify(asChatMessages(instructions, context)).toLowerCase().includes("json"))
    throw invalidRequest(
      "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.",
      "input",
    );

  if (faults.contentFilter) throw contentFilterError();

  // Tokens as chat counts them; over the context window, `truncation: auto` drops the oldest items.
  const tokenizer = tokenizerFor(deployment.model);
  const chatTools = tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description ?? undefined, parameters: tool.parameters ?? undefined },
  }));
  const count = (items: readonly ConversationItem[]) =>
    countChatPromptTokens(tokenizer, asChatMessages(instructions, items), chatTools.length ? chatTools : undefined);
  const contextWindow = deployment.maxInputTokens ?? DEFAULT_CONTEXT_WINDOW;
  let inputTokens = count(context);
  while (truncation === "auto" && context.length > 1 && inputTokens + (maxOutputTokens ?? 0) > contextWindow) {
    context = context.slice(1);
    inputTokens = count(context);
  }
  if (inputTokens + (maxOutputTokens ?? 0) > contextWindow)
    throw invalidRequest(
      "Your input exceeds the context window of this model. Please adjust your input and try again.",
      "input",
      "context_length_exceeded",
    );

  // Same conversation, tools and format, same answer (ids aside).
  const messages = asChatMessages(instructions, context);
  const generator = new Random(digest(seed, deployment.model, messages, chatTools, choice ?? null, format));
  const lastItem = context[context.length - 1];
  const called = functionToCall(callable, choice, lastItem?.type === "message" && lastItem.role === "user");
  let output: PlannedOutput;
  let outputTokens: number;
  if (called) {
    const call = generateCall(tokenizer, generator, called);
    output = { type: "function_call", call };
    outputTokens = call.completionTokens;
  } else {
    const generated = generateText(tokenizer, generator, format, {
      maxTokens: maxOutputTokens,
      filterAfterTokens: faults.finishContentFilterAfterTokens,
    });
    const logprobs = include.includes("message.output_text.logprobs")
      ? tokenLogprobs(tokenizer, generated.tokens, topLogprobs ?? 0, generator)
      : [];
    output = { type: "message", text: generated, logprobs };
    outputTokens = generated.tokens.length;
  }
  const finish = output.type === "message" ? output.text.finish : "stop";
  const plan: ResponsePlan = {
    stream,
    store: keep,
    inputTokens,
    outputTokens,
    input,
    previous,
    output,
    status: finish === "stop" ? "completed" : "incomplete",
    ...(finish === "length" ? { incompleteReason: "max_output_tokens" as const } : {}),
    ...(finish === "content_filter" ? { incompleteReason: "content_filter" as const } : {}),
    settings: {
      instructions: instructions ?? null,
      max_output_tokens: maxOutputTokens ?? null,
      max_tool_calls: maxToolCalls ?? null,
      parallel_tool_calls: parallelToolCalls,
      previous_response_id: previousId ?? null,
      reasoning: isObject(body.reasoning)
        ? { effort: body.reasoning.effort ?? null, summary: body.reasoning.summary ?? null }
        : { effort: null, summary: null },
      service_tier: "default",
      store: keep,
      temperature: temperature ?? 1,
      text,
      tool_choice: toolChoice,
      tools,
      top_logprobs: topLogprobs ?? 0,
      top_p: topP ?? 1,
      truncation,
      user: typeof body.user === "string" ? body.user : undefined,
      metadata,
    },
  };
  return {
    // Azure charges the input plus the most the output may use.
    chargeTokens: inputTokens + (maxOutputTokens ?? 0),
    stream,
    respond: (ctx) => (stream ? streamResponse(ctx, plan, tokenizer, store) : answerResponse(ctx, plan, store)),
  };
}

function checkMetadata(metadata: unknown): Record<string, string> {
  if (metadata === undefined || metadata === null) return {};
  if (!isObject(metadata)) throw invalidRequest("Invalid type for 'metadata': expected an object.", "metadata", "invalid_type");
  const entries = Object.entries(metadata);
  if (entries.length > 16)
    throw invalidRequest(
      `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${entries.length} properties instead.`,
      "metadata",
      "object_above_max_properties",
    );
  for (const [key, value] of entries) {
    if (key.length > 64)
      throw invalidRequest(`Invalid 'metadata': key '${key}' is longer than 64 characters.`, "metadata", "invalid_value");
    if (typeof value !== "string" || value.length > 512)
      throw invalidRequest(`Invalid 'metadata.${key}': expected a string of at most 512 characters.`, `metadata.${key}`, "invalid_value");
  }
  return metadata as Record<string, string>;
}

function checkInclude(include: unknown): string[] {
  if (include === undefined || include === null) return [];
  if (!Array.isArray(include)) throw invalidRequest("Invalid type for 'include': expected an array.", "include", "invalid_type");
  include.forEach((value: unknown, i) => {
    if (typeof value !== "string" || !INCLUDABLE.includes(value))
      throw invalidRequest(
        `Invalid value: '${String(value)}'. Supported values are: ${INCLUDABLE.map((name) => `'${name}'`).join(", ")}.`,
        `include[${i}]`,
        "invalid_value",
      );
  });
  return include as string[];
}

interface EchoedTool {
  type: "function";
  name: string;
  description: string | null;
  parameters: unknown;
  strict: boolean;
}

/** Function tools (`{type: "function", name, parameters, strict, description}`); hosted tools are refused. */
function checkTools(tools: unknown): { functions: FunctionDeclaration[]; echoed: EchoedTool[] } {
  if (tools === undefined || tools === null) return { functions: [], echoed: [] };
  if (!Array.isArray(tools)) throw invalidRequest("Invalid type for 'tools': expected an array.", "tools", "invalid_type");
  const echoed = tools.map((tool: unknown, i): EchoedTool => {
    if (!isObject(tool) || typeof tool.type !== "string")
      throw invalidRequest(`Missing required parameter: 'tools[${i}].type'.`, `tools[${i}].type`, "missing_required_parameter");
    if (tool.type !== "function")
      throw invalidRequest(
        `Invalid value: '${tool.type}'. The simulator runs tools of type 'function' only; hosted tools are not simulated.`,
        `tools[${i}].type`,
        "invalid_value",
      );
    if (typeof tool.name !== "string")
      throw invalidRequest(`Missing required parameter: 'tools[${i}].name'.`, `tools[${i}].name`, "missing_required_parameter");
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name))
      throw invalidRequest(
        `Invalid 'tools[${i}].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.`,
        `tools[${i}].name`,
        "invalid_value",
      );
    if (tool.parameters !== undefined && tool.parameters !== null && !isObject(tool.parameters))
      throw invalidRequest(`Invalid type for 'tools[${i}].parameters': expected an object.`, `tools[${i}].parameters`, "invalid_type");
    return {
      type: "function",
      name: tool.name,
      description: typeof tool.description === "string" ? tool.description : null,
      parameters: tool.parameters ?? null,
      strict: typeof tool.strict === "boolean" ? tool.strict : true,
    };
  });
  const functions = echoed.map((tool) => ({ name: tool.name, parameters: tool.parameters ?? undefined }));
  return { functions, echoed };
}

/**
 * `none`, `auto`, `required`, `{type: "function", name}` or `{type: "allowed_tools", mode, tools}`;
 * `callable` are the functions the model may call, in the order it prefers them.
 */
function checkToolChoice(
  toolChoice: unknown,
  functions: FunctionDeclaration[],
): { choice: ToolChoice | undefined; callable: FunctionDeclaration[]; echoed: unknown } {
  if (toolChoice === undefined || toolChoice === null) return { choice: undefined, callable: functions, echoed: "auto" };
  if (toolChoice === "none" || toolChoice === "auto") return { choice: toolChoice, callable: functions, echoed: toolChoice };
  if (toolChoice === "required") {
    if (!functions.length)
      throw invalidRequest("Tool choice 'required' must be specified with 'tools' parameter.", "tool_choice", "invalid_value");
    return { choice: "required", callable: functions, echoed: "required" };
  }
  if (isObject(toolChoice) && toolChoice.type === "function" && typeof toolChoice.name === "string") {
    const wanted = toolChoice.name;
    if (!functions.some((declared) => declared.name === wanted))
      throw invalidRequest(`Tool choice 'function' with name '${wanted}' not found in 'tools' parameter.`, "tool_choice", "invalid_value");
    return { choice: { name: wanted }, callable: functions, echoed: { type: "function", name: wanted } };
  }
  if (isObject(toolChoice) && toolChoice.type === "allowed_tools" && Array.isArray(toolChoice.tools)) {
    const mode = toolChoice.mode;
    if (mode !== "auto" && mode !== "required")
      throw invalidRequest(
        `Invalid value: '${String(mode)}'. Supported values are: 'auto' and 'required'.`,
        "tool_choice.mode",
        "invalid_value",
      );
    const allowed = toolChoice.tools.map((tool: unknown, i) => {
      const name = isObject(tool) && tool.type === "function" ? tool.name : undefined;
      if (typeof name !== "string" || !functions.some((declared) => declared.name === name))
        throw invalidRequest(
          `Invalid 'tool_choice.tools[${i}]': expected {"type": "function", "name": ...} naming a function in 'tools'.`,
          `tool_choice.tools[${i}]`,
          "invalid_value",
        );
      return name;
    });
    // The model may call only the allowed functions; `required` (or `auto` on the user's turn) calls the first.
    const callable = allowed.map((name) => functions.find((declared) => declared.name === name)!);
    return { choice: mode, callable, echoed: toolChoice };
  }
  throw invalidRequest(
    'Invalid value for \'tool_choice\': expected \'none\', \'auto\', \'required\', {"type": "function", "name": ...} or {"type": "allowed_tools", ...}.',
    "tool_choice",
    "invalid_value",
  );
}

/** `text.format`: text, json_object or json_schema (name and schema required), and verbosity. */
function checkText(text: unknown): { format: OutputFormat; echoed: Record<string, unknown> } {
  if (text === undefined || text === null) return { format: "text", echoed: { format: { type: "text" }, verbosity: "medium" } };
  if (!isObject(text)) throw invalidRequest("Invalid type for 'text': expected an object.", "text", "invalid_type");
  const verbosity = text.verbosity ?? "medium";
  if (verbosity !== "low" && verbosity !== "medium" && verbosity !== "high")
    throw invalidRequest(
      `Invalid value: '${String(verbosity)}'. Supported values are: 'low', 'medium', and 'high'.`,
      "text.verbosity",
      "invalid_value",
    );
  const format = text.format;
  if (format === undefined || format === null) return { format: "text", echoed: { format: { type: "text" }, verbosity } };
  if (!isObject(format) || typeof format.type !== "string")
    throw invalidRequest("Missing required parameter: 'text.format.type'.", "text.format.type", "missing_required_parameter");
  switch (format.type) {
    case "text":
      return { format: "text", echoed: { format: { type: "text" }, verbosity } };
    case "json_object":
      return { format: "json_object", echoed: { format: { type: "json_object" }, verbosity } };
    case "json_schema": {
      if (typeof format.name !== "string")
        throw invalidRequest("Missing required parameter: 'text.format.name'.", "text.format.name", "missing_required_parameter");
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(format.name))
        throw invalidRequest(
          "Invalid 'text.format.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.",
          "text.format.name",
          "invalid_value",
        );
      if (!isObject(format.schema))
        throw invalidRequest("Missing required parameter: 'text.format.schema'.", "text.format.schema", "missing_required_parameter");
      return {
        format: { schema: format.schema },
        echoed: {
          format: {
            type: "json_schema",
            ...(typeof format.description === "string" ? { description: format.description } : {}),
            name: format.name,
            schema: format.schema,
            strict: typeof format.strict === "boolean" ? format.strict : false,
          },
          verbosity,
        },
      };
    }
    default:
      throw invalidRequest(
        `Invalid value: '${format.type}'. Supported values are: 'text', 'json_object', and 'json_schema'.`,
        "text.format.type",
        "invalid_value",
      );
  }
}

/** The output items as they are once generated, with ids from the request's generator. */
function outputItems(plan: ResponsePlan, random: Random): ConversationItem[] {
  const itemStatus = plan.status === "completed" ? "completed" : "incomplete";
  if (plan.output.type === "function_call") {
    const { call } = plan.output;
    return [
      {
        id: itemId("fc_", random),
        type: "function_call",
        status: "completed",
        arguments: call.arguments,
        call_id: call.callId,
        name: call.name,
      },
    ];
  }
  return [
    {
      id: itemId("msg_", random),
      type: "message",
      status: itemStatus,
      content: [{ type: "output_text", annotations: [], logprobs: plan.output.logprobs, text: plan.output.text.content }],
      role: "assistant",
    },
  ];
}

function usageOf(plan: ResponsePlan, outputTokens: number) {
  return {
    input_tokens: plan.inputTokens,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: plan.inputTokens + outputTokens,
  };
}

/** The response object, in OpenAI's field order: in progress (no output, no usage) or finished. */
function responseObject(
  plan: ResponsePlan,
  id: string,
  createdAt: number,
  model: string,
  state: { status: "in_progress" } | { status: Status; output: ConversationItem[] },
): StoredResponse["response"] {
  const finished = state.status !== "in_progress";
  return {
    id,
    object: "response",
    created_at: createdAt,
    status: state.status,
    background: false,
    completed_at: state.status === "completed" ? Math.floor(Date.now() / 1000) : null,
    error: null,
    incomplete_details: finished && plan.incompleteReason ? { reason: plan.incompleteReason } : null,
    instructions: plan.settings.instructions,
    max_output_tokens: plan.settings.max_output_tokens,
    max_tool_calls: plan.settings.max_tool_calls,
    model,
    output: finished ? state.output : [],
    parallel_tool_calls: plan.settings.parallel_tool_calls,
    previous_response_id: plan.settings.previous_response_id,
    prompt_cache_key: null,
    reasoning: plan.settings.reasoning,
    safety_identifier: null,
    service_tier: plan.settings.service_tier,
    store: plan.settings.store,
    temperature: plan.settings.temperature,
    text: plan.settings.text,
    tool_choice: plan.settings.tool_choice,
    tools: plan.settings.tools,
    top_logprobs: plan.settings.top_logprobs,
    top_p: plan.settings.top_p,
    truncation: plan.settings.truncation,
    // OpenAI's examples send `usage: null` and `user: null`; the spec types both as non-null, so absent stands for null.
    ...(finished ? { usage: usageOf(plan, plan.outputTokens) } : {}),
    ...(plan.settings.user !== undefined ? { user: plan.settings.user } : {}),
    metadata: plan.settings.metadata,
  };
}

function keep(store: ResponseStore, plan: ResponsePlan, ctx: RequestContext, response: StoredResponse["response"]): void {
  if (!plan.store) return;
  store.put({ response, deployment: ctx.deployment.name, input: plan.input, ...(plan.previous ? { previous: plan.previous } : {}) });
}

async function answerResponse(ctx: RequestContext, plan: ResponsePlan, store: ResponseStore): Promise<void> {
  const createdAt = Math.floor(Date.now() / 1000);
  if (!(await ctx.sleep(answerDelayMs(ctx, plan.outputTokens)))) return;
  const id = itemId("resp_", ctx.random);
  const response = responseObject(plan, id, createdAt, modelName(ctx.deployment), {
    status: plan.status,
    output: outputItems(plan, ctx.random),
  });
  ctx.recordUsage(plan.inputTokens, plan.outputTokens);
  keep(store, plan, ctx, response);
  ctx.sendJson(200, response);
}

/**
 * Streams a response as OpenAI's typed events, each `event: <type>` and `data: <json>` with an
 * increasing sequence_number: created and in_progress at once, then after the time to first token
 * the output item, its content part and one text delta per token (or argument fragments of a
 * function call) paced by the latency model, their done events, and completed (or incomplete).
 * A client that goes away, the `drop` fault or the `stream-error` fault (an `error` event) stops it:
 * nothing is stored then.
 */
async function streamResponse(ctx: RequestContext, plan: ResponsePlan, tokenizer: Tokenizer, store: ResponseStore): Promise<void> {
  const { res } = ctx;
  const createdAt = Math.floor(Date.now() / 1000);
  const id = itemId("resp_", ctx.random);
  const model = modelName(ctx.deployment);
  const output = outputItems(plan, ctx.random);
  const item = output[0]!;
  let sequence = 0;
  const send = (type: string, fields: Record<string, unknown>) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: sequence++ })}\n\n`);

  ctx.counters.streams++;
  const pace = streamPace(ctx);
  res.writeHead(200, { ...ctx.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  const inProgress = responseObject(plan, id, createdAt, model, { status: "in_progress" });
  send("response.created", { response: inProgress });
  send("response.in_progress", { response: inProgress });
  if (!(await ctx.sleep(pace.firstTokenMs))) return ctx.recordUsage(plan.inputTokens, 0);

  let sent = 0;
  const abandon = () => ctx.recordUsage(plan.inputTokens, Math.min(plan.outputTokens, sent));
  // The Responses API's own error event (ResponseErrorEvent), for the `stream-error` fault.
  const sendError = () => send("error", { code: "server_error", message: STREAM_ERROR_MESSAGE, param: null });
  if (plan.output.type === "message") {
    const { text, logprobs } = plan.output;
    const part = (soFar: string, partLogprobs: unknown[]) => ({
      type: "output_text",
      annotations: [],
      logprobs: partLogprobs,
      text: soFar,
    });
    const where = { item_id: item.id, output_index: 0, content_index: 0 };
    send("response.output_item.added", {
      output_index: 0,
      item: { id: item.id, type: "message", status: "in_progress", content: [], role: "assistant" },
    });
    send("response.content_part.added", { ...where, part: part("", []) });
    for (const [step, token] of text.tokens.entries()) {
      if (!(await nextStep(ctx, pace, step, sendError))) return abandon();
      send("response.output_text.delta", { ...where, delta: tokenizer.decode([token]), logprobs: logprobs.slice(step, step + 1) });
      sent++;
    }
    send("response.output_text.done", { ...where, text: text.content, logprobs });
    send("response.content_part.done", { ...where, part: part(text.content, logprobs) });
  } else {
    const { call } = plan.output;
    send("response.output_item.added", {
      output_index: 0,
      item: { id: item.id, type: "function_call", status: "in_progress", arguments: "", call_id: call.callId, name: call.name },
    });
    for (const [step, fragment] of (call.arguments.match(/.{1,12}/gs) ?? []).entries()) {
      if (!(await nextStep(ctx, pace, step, sendError))) return abandon();
      send("response.function_call_arguments.delta", { item_id: item.id, output_index: 0, delta: fragment });
      sent++;
    }
    send("response.function_call_arguments.done", { item_id: item.id, name: call.name, output_index: 0, arguments: call.arguments });
  }
  send("response.output_item.done", { output_index: 0, item });

  const response = responseObject(plan, id, createdAt, model, { status: plan.status, output });
  ctx.recordUsage(plan.inputTokens, plan.outputTokens);
  keep(store, plan, ctx, response);
  send(plan.status === "completed" ? "response.completed" : "response.incomplete", { response });
  res.end();
}

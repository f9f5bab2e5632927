/**
 * The chat completions and legacy completions operations: checks a request as Azure OpenAI does
 * (messages, sampling parameters, n, stop, tools and tool_choice, the deprecated functions and
 * function_call, response_format with JSON schemas, the context window; On Your Data's
 * data_sources is refused, not simulated), then answers in Azure's exact shapes, whole or streamed
 * as SSE chunks paced by the latency model, with tool and function calls, logprobs, content filter
 * results and usage.
 * The app's chat path, its streaming relay and its error handling run against it unchanged.
 */
import { randomBytes } from "node:crypto";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { isObject } from "./deployments.js";
import { choiceFilterResults, contentFilterError, invalidRequest, promptFilterResults } from "./errors.js";
import {
  finishText,
  functionToCall,
  generateCall,
  generateText,
  modelName,
  randomId,
  tokenLogprobs,
  type FunctionDeclaration,
  type OutputFormat,
  type TextFinish,
  type ToolChoice,
} from "./generation.js";
import { sampleFromSchema } from "./json-schema-sample.js";
import { STREAM_ERROR_MESSAGE, answerDelayMs, nextStep, streamPace } from "./pacing.js";
import { boolParam as bool, intParam as int, numberParam as num } from "./params.js";
import { Random, digest } from "./random.js";
import { countChatPromptTokens, generateProse, tokenizerFor, type Tokenizer } from "./tokens.js";

const ROLES = ["system", "assistant", "user", "function", "tool", "developer"];
const DEFAULT_CONTEXT_WINDOW = 128_000;
const FILTERED_CATEGORY = "violence";

type FinishReason = TextFinish | "tool_calls" | "function_call";

interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** One generated choice: its content tokens (streamed one per chunk), its tool calls, or its (deprecated) function call. */
interface Generated {
  content: string | null;
  tokens: number[];
  toolCalls?: ToolCall[];
  /** The deprecated `functions` API's answer: `message.function_call`, finish_reason `function_call` (the id is unused). */
  functionCall?: ToolCall;
  finish: FinishReason;
  completionTokens: number;
}

const SYSTEM_FINGERPRINT = "fp_" + randomBytes(5).toString("hex");

function stops(body: Record<string, unknown>): string[] {
  const stop = body.stop;
  if (stop === undefined || stop === null) return [];
  const list =
    typeof stop === "string"
      ? [stop]
      : Array.isArray(stop) && stop.every((item) => typeof item === "string")
        ? (stop as string[])
        : undefined;
  if (!list) throw invalidRequest("Invalid type for 'stop': expected a string or an array of strings.", "stop", "invalid_type");
  if (list.length > 4)
    throw invalidRequest("Invalid 'stop': array too long. Expected an array with maximum length 4.", "stop", "array_above_max_length");
  return list.filter((sequence) => sequence !== "");
}

function streamOptions(body: Record<string, unknown>, stream: boolean): boolean {
  const options = body.stream_options;
  if (options === undefined || options === null) return false;
  if (!stream)
    throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value");
  if (!isObject(options)) throw invalidRequest("Invalid type for 'stream_options': expected an object.", "stream_options", "invalid_type");
  return options.include_usage === true;
}

interface ChatPlan {
  kind: "chat";
  stream: boolean;
  includeUsage: boolean;
  promptTokens: number;
  choices: Generated[];
  logprobs: boolean;
  topLogprobs: number;
}

/**
 * Validates a chat completion request and computes its answer up front (so the token estimate and
 * the answer are ready before the latency model starts).
 * @throws SimulatorHttpError 400 in OpenAI's shape for anything the service would refuse.
 */
export function prepareChat(
  body: Record<string, unknown>,
  deployment: DeploymentConfig,
  ctxSeed: number,
  fallback: Random,
  faults: { contentFilter: boolean; finishContentFilterAfterTokens?: number },
): Prepared {
  const messages = body.messages;
  if (messages === undefined) throw invalidRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
  if (!Array.isArray(messages))
    throw invalidRequest("Invalid type for 'messages': expected an array of objects.", "messages", "invalid_type");
  if (messages.length === 0)
    throw invalidRequest(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "messages",
      "empty_array",
    );
  messages.forEach((message: unknown, i) => {
    if (!isObject(message))
      throw invalidRequest(`Invalid type for 'messages[${i}]': expected an object.`, `messages[${i}]`, "invalid_type");
    if (typeof message.role !== "string")
      throw invalidRequest(`Missing required parameter: 'messages[${i}].role'.`, `messages[${i}].role`, "missing_required_parameter");
    if (!ROLES.includes(message.role))
      throw invalidRequest(
        `Invalid value: '${message.role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `messages[${i}].role`,
        "invalid_value",
      );
    const content = message.content;
    const contentOk =
      typeof content === "string" ||
      Array.isArray(content) ||
      ((content === null || content === undefined) && message.role === "assistant");
    if (!contentOk)
      throw invalidRequest(
        `Invalid type for 'messages[${i}].content': expected one of a string or array of objects.`,
        `messages[${i}].content`,
        "invalid_type",
      );
    if (Array.isArray(content))
      content.forEach((part: unknown, j) => {
        if (!isObject(part) || typeof part.type !== "string")
          throw invalidRequest(
            `Missing required parameter: 'messages[${i}].content[${j}].type'.`,
            `messages[${i}].content[${j}].type`,
            "missing_required_parameter",
          );
      });
    if (message.role === "tool" && typeof message.tool_call_id !== "string")
      throw invalidRequest(
        `Missing required parameter: 'messages[${i}].tool_call_id'.`,
        `messages[${i}].tool_call_id`,
        "missing_required_parameter",
      );
  });
  const chatMessages = messages as Record<string, unknown>[];

  const stream = bool(body, "stream") ?? false;
  const includeUsage = streamOptions(body, stream);
  const choiceCount = int(body, "n", 1, 128) ?? 1;
  const maxTokens = int(body, "max_completion_tokens", 1, 1_000_000) ?? int(body, "max_tokens", 1, 1_000_000);
  num(body, "temperature", 0, 2);
  num(body, "top_p", 0, 1);
  num(body, "presence_penalty", -2, 2);
  num(body, "frequency_penalty", -2, 2);
  const seed = int(body, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const logprobs = bool(body, "logprobs") ?? false;
  const topLogprobs = int(body, "top_logprobs", 0, 20) ?? 0;
  if (topLogprobs > 0 && !logprobs)
    throw invalidRequest(
      "Invalid value for 'top_logprobs': 'logprobs' must be true when 'top_logprobs' is set.",
      "top_logprobs",
      "invalid_value",
    );
  const stopList = stops(body);

  // Tools and the choice among them.
  const tools = body.tools;
  let functions: FunctionDeclaration[] = [];
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) throw invalidRequest("Invalid type for 'tools': expected an array.", "tools", "invalid_type");
    functions = tools.map((tool: unknown, i) => {
      const declared = isObject(tool) && tool.type === "function" && isObject(tool.function) ? tool.function : undefined;
      if (!declared || typeof declared.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(declared.name))
        throw invalidRequest(
          `Invalid 'tools[${i}]': expected {"type": "function", "function": {"name": ...}} with a name of 1-64 letters, digits, '_' or '-'.`,
          `tools[${i}].function.name`,
          "invalid_value",
        );
      return { name: declared.name, parameters: declared.parameters };
    });
  }
  const toolChoice = body.tool_choice;
  let choice: ToolChoice | undefined;
  if (toolChoice !== undefined && toolChoice !== null) {
    if (!functions.length)
      throw invalidRequest(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        "tool_choice",
        null,
      );
    if (toolChoice === "required" || toolChoice === "auto" || toolChoice === "none") choice = toolChoice;
    else if (isObject(toolChoice) && isObject(toolChoice.function) && typeof toolChoice.function.name === "string") {
      const wanted = toolChoice.function.name;
      if (!functions.some((declared) => declared.name === wanted))
        throw invalidRequest(
          `Invalid value for 'tool_choice': no function named '${wanted}' was specified in the 'tools' parameter.`,
          "tool_choice",
          null,
        );
      choice = { name: wanted };
    } else
      throw invalidRequest(
        "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.",
        "tool_choice",
        "invalid_value",
      );
  }
  const called = functionToCall(functions, choice, chatMessages[chatMessages.length - 1]?.role === "user");
  const legacy = legacyFunctionCall(body, chatMessages);
  // Both given: the tools decide, as the newer API.
  const callFunction = functions.length ? undefined : legacy.call;

  // Azure OpenAI On Your Data (chat extensions) needs a search service the simulator does not have.
  if (body.data_sources !== undefined && body.data_sources !== null)
    throw invalidRequest(
      "The simulator does not simulate Azure OpenAI On Your Data: 'data_sources' (Azure AI Search, Azure Cosmos DB, ...) is not supported here. Send the request without 'data_sources', or test On Your Data against a real Azure OpenAI resource.",
      "data_sources",
      "unsupported_parameter",
    );

  // Response format.
  const responseFormat = body.response_format;
  let format: OutputFormat = "text";
  if (responseFormat !== undefined && responseFormat !== null) {
    if (!isObject(responseFormat) || typeof responseFormat.type !== "string")
      throw invalidRequest("Invalid type for 'response_format': expected an object with a 'type'.", "response_format", "invalid_type");
    if (responseFormat.type === "json_object") {
      const mentionsJson = chatMessages.some((message) =>
        JSON.stringify(message.content ?? "")
          .toLowerCase()
          .includes("json"),
      );
      if (!mentionsJson)
        throw invalidRequest(
          "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
          "messages",
          null,
        );
      format = "json_object";
    } else if (responseFormat.type === "json_schema") {
      const jsonSchema = responseFormat.json_schema;
      if (!isObject(jsonSchema) || typeof jsonSchema.name !== "string")
        throw invalidRequest(
          "Missing required parameter: 'response_format.json_schema.name'.",
          "response_format.json_schema.name",
          "missing_required_parameter",
        );
      format = { schema: jsonSchema.schema ?? { type: "object", properties: {} } };
    } else if (responseFormat.type !== "text")
      throw invalidRequest(
        `Invalid value: '${String(responseFormat.type)}'. Supported values are: 'json_object', 'json_schema', and 'text'.`,
        "response_format.type",
        "invalid_value",
      );
  }

  if (faults.contentFilter) throw contentFilterError();

  const tokenizer = tokenizerFor(deployment.model);
  const declaredTools = [
    ...(Array.isArray(tools) ? tools : []),
    ...legacy.declared.map((declared) => ({ type: "function", function: declared })),
  ];
  const promptTokens = countChatPromptTokens(tokenizer, chatMessages, declaredTools.length ? declaredTools : undefined);
  const contextWindow = deployment.maxInputTokens ?? DEFAULT_CONTEXT_WINDOW;
  if (promptTokens + (maxTokens ?? 0) > contextWindow)
    throw invalidRequest(
      `This model's maximum context length is ${contextWindow} tokens. However, you requested ${promptTokens + (maxTokens ?? 0)} tokens (${promptTokens} in the messages, ${maxTokens ?? 0} in the completion). Please reduce the length of the messages or completion.`,
      "messages",
      "context_length_exceeded",
    );

  // With a seed the same request gets the same answer; without one, the simulator's own seeded sequence.
  const base =
    seed !== undefined
      ? digest(
          ctxSeed,
          deployment.model,
          seed,
          chatMessages,
          responseFormat ?? null,
          tools ?? null,
          toolChoice ?? null,
          ...(legacy.declared.length ? [legacy.declared, body.function_call ?? null] : []),
        )
      : digest(fallback.nextUint32(), fallback.nextUint32());
  const choices: Generated[] = [];
  for (let i = 0; i < choiceCount; i++) {
    const random = new Random(`${base}:${i}`);
    if (called) {
      const call = generateCall(tokenizer, random, called);
      choices.push({
        content: null,
        tokens: [],
        toolCalls: [{ id: call.callId, name: call.name, arguments: call.arguments }],
        finish: "tool_calls",
        completionTokens: call.completionTokens,
      });
      continue;
    }
    if (callFunction !== undefined) {
      const called = legacy.declared.find((declared) => declared.name === callFunction)!;
      const args = JSON.stringify(sampleFromSchema(called.parameters ?? { type: "object", properties: {} }, random));
      choices.push({
        content: null,
        tokens: [],
        functionCall: { id: "", name: called.name, arguments: args },
        finish: "function_call",
        completionTokens: tokenizer.count(called.name) + tokenizer.count(args) + 7,
      });
      continue;
    }
    const done = generateText(tokenizer, random, format, {
      stops: stopList,
      maxTokens,
      filterAfterTokens: faults.finishContentFilterAfterTokens,
    });
    choices.push({ ...done, completionTokens: done.tokens.length });
  }

  const plan: ChatPlan = { kind: "chat", stream, includeUsage, promptTokens, choices, logprobs, topLogprobs };
  return {
    // Azure charges the prompt plus the most the completion may use, per choice.
    chargeTokens: promptTokens + (maxTokens ?? 0) * choiceCount,
    stream,
    respond: (ctx) => (stream ? streamChat(ctx, plan, tokenizer) : answerChat(ctx, plan, tokenizer)),
  };
}

/**
 * The deprecated `functions` / `function_call` pair (replaced by `tools` / `tool_choice`, still in
 * Azure's 2024-10-21 API): checked as OpenAI checks it, and chosen like tools: a named function is
 * called, "none" answers in text, "auto" (or absent) calls the first function on a user's turn and
 * answers in text after a function result. The call comes back in `message.function_call` with
 * finish_reason `function_call`, as Azure answers.
 * @throws SimulatorHttpError 400 for malformed functions or a function_call that names none of them.
 */
function legacyFunctionCall(
  body: Record<string, unknown>,
  messages: readonly Record<string, unknown>[],
): { declared: { name: string; description?: string; parameters?: unknown }[]; call: string | undefined } {
  const functions = body.functions;
  const functionCall = body.function_call;
  let declared: { name: string; description?: string; parameters?: unknown }[] = [];
  if (functions !== undefined && functions !== null) {
    if (!Array.isArray(functions)) throw invalidRequest("Invalid type for 'functions': expected an array.", "functions", "invalid_type");
    if (functions.length === 0 || functions.length > 128)
      throw invalidRequest(
        `Invalid 'functions': expected an array with 1 to 128 functions, but got ${functions.length}.`,
        "functions",
        functions.length === 0 ? "empty_array" : "array_above_max_length",
      );
    declared = functions.map((candidate: unknown, i) => {
      if (!isObject(candidate) || typeof candidate.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(candidate.name))
        throw invalidRequest(
          `Invalid 'functions[${i}].name': expected a name of 1-64 letters, digits, '_' or '-'.`,
          `functions[${i}].name`,
          "invalid_value",
        );
      return {
        name: candidate.name,
        ...(typeof candidate.description === "string" ? { description: candidate.description } : {}),
        ...(candidate.parameters !== undefined ? { parameters: candidate.parameters } : {}),
      };
    });
  }
  let call: string | undefined;
  if (functionCall !== undefined && functionCall !== null) {
    if (!declared.length)
      throw invalidRequest(
        "Invalid value for 'function_call': 'function_call' is only allowed when 'functions' are specified.",
        "function_call",
        null,
      );
    if (isObject(functionCall) && typeof functionCall.name === "string") {
      const wanted = functionCall.name;
      if (!declared.some((candidate) => candidate.name === wanted))
        throw invalidRequest(
          `Invalid value for 'function_call': no function named '${wanted}' was specified in the 'functions' parameter.`,
          "function_call",
          null,
        );
      call = wanted;
    } else if (functionCall !== "auto" && functionCall !== "none")
      throw invalidRequest(
        "Invalid value for 'function_call': expected 'none', 'auto' or {\"name\": ...}.",
        "function_call",
        "invalid_value",
      );
  }
  if ((functionCall === undefined || functionCall === null || functionCall === "auto") && declared.length)
    call = messages[messages.length - 1]?.role === "user" ? declared[0]!.name : undefined;
  return { declared, call };
}

function logprobsFor(tokenizer: Tokenizer, tokens: number[], top: number, random: Random) {
  return { content: tokenLogprobs(tokenizer, tokens, top, random), refusal: null };
}

function usageOf(promptTokens: number, completionTokens: number) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

async function answerChat(ctx: RequestContext, plan: ChatPlan, tokenizer: Tokenizer): Promise<void> {
  const completionTokens = plan.choices.reduce((sum, choice) => sum + choice.completionTokens, 0);
  const longest = Math.max(0, ...plan.choices.map((choice) => choice.completionTokens));
  if (!(await ctx.sleep(answerDelayMs(ctx, longest)))) return;
  ctx.recordUsage(plan.promptTokens, completionTokens);
  ctx.sendJson(200, {
    id: randomId("chatcmpl-", ctx.random),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: modelName(ctx.deployment),
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: plan.choices.map((choice, index) => ({
      index,
      message: {
        role: "assistant",
        content: choice.content,
        refusal: null,
        annotations: [],
        ...(choice.toolCalls
          ? {
              tool_calls: choice.toolCalls.map((call) => ({
                id: call.id,
                type: "function",
                function: { name: call.name, arguments: call.arguments },
              })),
            }
          : {}),
        ...(choice.functionCall ? { function_call: { name: choice.functionCall.name, arguments: choice.functionCall.arguments } } : {}),
      },
      finish_reason: choice.finish,
      logprobs:
        plan.logprobs && choice.toolCalls === undefined && choice.functionCall === undefined
          ? logprobsFor(tokenizer, choice.tokens, plan.topLogprobs, ctx.random)
          : null,
      content_filter_results: choiceFilterResults(choice.finish === "content_filter" ? FILTERED_CATEGORY : undefined),
    })),
    usage: usageOf(plan.promptTokens, completionTokens),
    prompt_filter_results: promptFilterResults(),
  });
}

/** One SSE event per chunk, exactly as Azure frames them. */
function event(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** The `stream-error` fault's event: OpenAI's error body as a data event, which the `openai` client raises as an APIError. */
const STREAM_ERROR_EVENT = event({ error: { message: STREAM_ERROR_MESSAGE, type: "server_error", param: null, code: null } });

/**
 * Streams a chat completion as Azure does: prompt filter results with empty choices, a role chunk,
 * one content chunk per token paced by the latency model, the finish chunk, the usage chunk when
 * asked, `[DONE]`. Stops generating when the client goes away.
 */
async function streamChat(ctx: RequestContext, plan: ChatPlan, tokenizer: Tokenizer): Promise<void> {
  const { res } = ctx;
  const base = {
    id: randomId("chatcmpl-", ctx.random),
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: modelName(ctx.deployment),
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  const asyncFilter = ctx.deployment.contentFilterMode === "asynchronous";
  const chunk = (index: number, delta: unknown, finish: FinishReason | null, filter: unknown = {}, logprobs: unknown = null) => ({
    ...base,
    choices: [{ index, delta, finish_reason: finish, logprobs, content_filter_results: filter }],
  });

  ctx.counters.streams++;
  const pace = streamPace(ctx);
  if (!(await ctx.sleep(pace.firstTokenMs))) return abandon(ctx, plan, 0);

  res.writeHead(200, { ...ctx.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  res.write(event({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: promptFilterResults() }));
  plan.choices.forEach((choice, i) =>
    res.write(
      event(
        chunk(
          i,
          choice.toolCalls || choice.functionCall
            ? { role: "assistant", content: null, refusal: null }
            : { role: "assistant", content: "", refusal: null },
          null,
        ),
      ),
    ),
  );

  // Tool and function calls stream as a header chunk and argument fragments; text streams one token per chunk.
  const pieces = plan.choices.map((choice) => {
    const call = choice.toolCalls?.[0] ?? choice.functionCall;
    if (!call) return choice.tokens.map((tokenId) => ({ content: tokenizer.decode([tokenId]), token: tokenId }));
    const args = call.arguments.match(/.{1,12}/gs) ?? [];
    const legacy = choice.functionCall !== undefined;
    return [{ toolHeader: call, legacy }, ...args.map((fragment) => ({ args: fragment, legacy }))];
  });
  const steps = Math.max(0, ...pieces.map((choicePieces) => choicePieces.length));
  const inlineFilter = asyncFilter ? {} : choiceFilterResults();
  let sent = 0;
  for (let step = 0; step < steps; step++) {
    if (!(await nextStep(ctx, pace, step, () => res.write(STREAM_ERROR_EVENT)))) return abandon(ctx, plan, sent);
    plan.choices.forEach((_, i) => {
      const piece = pieces[i]![step];
      if (!piece) return;
      if ("content" in piece) {
        const logprobs = plan.logprobs ? logprobsFor(tokenizer, [piece.token], plan.topLogprobs, ctx.random) : null;
        res.write(event(chunk(i, { content: piece.content }, null, inlineFilter, logprobs)));
      } else if ("toolHeader" in piece) {
        const call = piece.toolHeader;
        const delta = piece.legacy
          ? { function_call: { name: call.name, arguments: "" } }
          : { tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] };
        res.write(event(chunk(i, delta, null)));
      } else {
        const delta = piece.legacy
          ? { function_call: { arguments: piece.args } }
          : { tool_calls: [{ index: 0, function: { arguments: piece.args } }] };
        res.write(event(chunk(i, delta, null)));
      }
    });
    sent++;
  }

  plan.choices.forEach((choice, i) =>
    res.write(event(chunk(i, {}, choice.finish, choice.finish === "content_filter" ? choiceFilterResults(FILTERED_CATEGORY) : {}))),
  );
  if (asyncFilter) {
    // Azure's asynchronous filter: annotation-only chunks after the content, with no delta and empty ids.
    plan.choices.forEach((choice, i) => {
      const end = (choice.content ?? "").length;
      res.write(
        event({
          choices: [
            {
              index: i,
              finish_reason: null,
              content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: end },
              content_filter_results: choiceFilterResults(),
            },
          ],
          created: 0,
          id: "",
          model: "",
          object: "",
        }),
      );
    });
  }
  const completionTokens = plan.choices.reduce((sum, choice) => sum + choice.completionTokens, 0);
  if (plan.includeUsage) res.write(event({ ...base, choices: [], usage: usageOf(plan.promptTokens, completionTokens) }));
  res.write("data: [DONE]\n\n");
  ctx.recordUsage(plan.promptTokens, completionTokens);
  res.end();
}

/** The client went away (or the connection was dropped): count what was generated so far. */
function abandon(ctx: RequestContext, plan: ChatPlan | CompletionPlan, stepsSent: number): void {
  const completionTokens = plan.choices.reduce((sum, choice) => sum + Math.min(choice.completionTokens, stepsSent), 0);
  ctx.recordUsage(plan.promptTokens, completionTokens);
}

interface CompletionPlan {
  stream: boolean;
  includeUsage: boolean;
  promptTokens: number;
  choices: Generated[];
  echo: string[];
}

/**
 * The legacy completions operation (gpt-35-turbo-instruct and the like).
 * @throws SimulatorHttpError 400 for a missing or malformed prompt or parameters.
 */
export function prepareCompletion(
  body: Record<string, unknown>,
  deployment: DeploymentConfig,
  ctxSeed: number,
  fallback: Random,
  faults: { contentFilter: boolean; finishContentFilterAfterTokens?: number },
): Prepared {
  const prompt = body.prompt;
  const prompts =
    typeof prompt === "string"
      ? [prompt]
      : Array.isArray(prompt) && prompt.every((item) => typeof item === "string")
        ? (prompt as string[])
        : undefined;
  if (!prompts || prompts.length === 0)
    throw invalidRequest("Missing required parameter: 'prompt' (a string or an array of strings).", "prompt", "missing_required_parameter");
  const stream = bool(body, "stream") ?? false;
  const includeUsage = streamOptions(body, stream);
  const choicesPerPrompt = int(body, "n", 1, 128) ?? 1;
  // The completions API's own default.
  const maxTokens = int(body, "max_tokens", 0, 1_000_000) ?? 16;
  const echo = bool(body, "echo") ?? false;
  num(body, "temperature", 0, 2);
  const seed = int(body, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const stopList = stops(body);
  if (faults.contentFilter) throw contentFilterError();
  const tokenizer = tokenizerFor(deployment.model);
  const promptTokens = prompts.reduce((sum, text) => sum + tokenizer.count(text), 0);
  const base = seed !== undefined ? digest(ctxSeed, deployment.model, seed, prompts) : digest(fallback.nextUint32(), fallback.nextUint32());
  const choices: Generated[] = [];
  prompts.forEach((_, promptIndex) => {
    for (let i = 0; i < choicesPerPrompt; i++) {
      const random = new Random(`${base}:${promptIndex}:${i}`);
      const done = finishText(
        tokenizer,
        " " + generateProse(random, Math.max(maxTokens, 1) + 8),
        stopList,
        maxTokens,
        faults.finishContentFilterAfterTokens,
      );
      choices.push({ ...done, completionTokens: done.tokens.length });
    }
  });
  const plan: CompletionPlan = {
    stream,
    includeUsage,
    promptTokens,
    choices,
    echo: prompts.flatMap((text) => Array<string>(choicesPerPrompt).fill(echo ? text : "")),
  };
  return {
    chargeTokens: promptTokens + maxTokens * choicesPerPrompt * prompts.length,
    stream,
    respond: (ctx) => (stream ? streamCompletion(ctx, plan, tokenizer) : answerCompletion(ctx, plan)),
  };
}

async function answerCompletion(ctx: RequestContext, plan: CompletionPlan): Promise<void> {
  const completionTokens = plan.choices.reduce((sum, choice) => sum + choice.completionTokens, 0);
  const longest = Math.max(0, ...plan.choices.map((choice) => choice.completionTokens));
  if (!(await ctx.sleep(answerDelayMs(ctx, longest)))) return;
  ctx.recordUsage(plan.promptTokens, completionTokens);
  ctx.sendJson(200, {
    id: randomId("cmpl-", ctx.random),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: modelName(ctx.deployment),
    choices: plan.choices.map((choice, index) => ({
      text: (plan.echo[index] ?? "") + (choice.content ?? ""),
      index,
      finish_reason: choice.finish,
      logprobs: null,
      content_filter_results: choiceFilterResults(choice.finish === "content_filter" ? FILTERED_CATEGORY : undefined),
    })),
    usage: { prompt_tokens: plan.promptTokens, completion_tokens: completionTokens, total_tokens: plan.promptTokens + completionTokens },
    prompt_filter_results: promptFilterResults(),
  });
}

async function streamCompletion(ctx: RequestContext, plan: CompletionPlan, tokenizer: Tokenizer): Promise<void> {
  const { res } = ctx;
  const base = {
    id: randomId("cmpl-", ctx.random),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: modelName(ctx.deployment),
  };
  ctx.counters.streams++;
  const firstTokenMs = ctx.sampleMs(ctx.latency.timeToFirstTokenMs) + ctx.faults.delayMs;
  // Completions keep the mean speed for the whole stream.
  const pace = { firstAt: performance.now() + firstTokenMs, tokensPerSecond: ctx.latency.tokensPerSecond };
  if (!(await ctx.sleep(firstTokenMs))) return abandon(ctx, plan, 0);
  res.writeHead(200, { ...ctx.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  res.write(event({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: promptFilterResults() }));
  const steps = Math.max(0, ...plan.choices.map((choice) => choice.tokens.length));
  let sent = 0;
  for (let step = 0; step < steps; step++) {
    if (!(await nextStep(ctx, pace, step, () => res.write(STREAM_ERROR_EVENT)))) return abandon(ctx, plan, sent);
    plan.choices.forEach((choice, index) => {
      const tokenId = choice.tokens[step];
      if (tokenId === undefined) return;
      const text = (step === 0 ? (plan.echo[index] ?? "") : "") + tokenizer.decode([tokenId]);
      res.write(
        event({ ...base, choices: [{ text, index, logprobs: null, finish_reason: null, content_filter_results: choiceFilterResults() }] }),
      );
    });
    sent++;
  }
  plan.choices.forEach((choice, index) =>
    res.write(event({ ...base, choices: [{ text: "", index, logprobs: null, finish_reason: choice.finish, content_filter_results: {} }] })),
  );
  const completionTokens = plan.choices.reduce((sum, choice) => sum + choice.completionTokens, 0);
  if (plan.includeUsage)
    res.write(
      event({
        ...base,
        choices: [],
        usage: {
          prompt_tokens: plan.promptTokens,
          completion_tokens: completionTokens,
          total_tokens: plan.promptTokens + completionTokens,
        },
      }),
    );
  res.write("data: [DONE]\n\n");
  ctx.recordUsage(plan.promptTokens, completionTokens);
  res.end();
}

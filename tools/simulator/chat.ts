import { randomBytes } from "node:crypto";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { isObject } from "./deployments.js";
import { choiceFilterResults, contentFilterError, invalidRequest, promptFilterResults } from "./errors.js";
import { sampleFromSchema } from "./json-schema-sample.js";
import { Random, digest, sampleNonNegative } from "./random.js";
import { countChatPromptTokens, generateProse, tokenizerFor, type Tokenizer } from "./tokens.js";

const ROLES = ["system", "assistant", "user", "function", "tool", "developer"];
const DEFAULT_CONTEXT_WINDOW = 128_000;
const FILTERED_CATEGORY = "violence";

type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** One generated choice: its content tokens (streamed one per chunk) or its tool calls. */
interface Generated {
  content: string | null;
  tokens: number[];
  toolCalls?: ToolCall[];
  finish: FinishReason;
  completionTokens: number;
}

function modelName(d: DeploymentConfig): string {
  return d.modelVersion && /^\d{4}-\d{2}-\d{2}$/.test(d.modelVersion) ? `${d.model}-${d.modelVersion}` : d.model;
}

function id(prefix: string, random: Random): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let s = prefix;
  for (let i = 0; i < 29; i++) s += alphabet[random.int(0, alphabet.length - 1)];
  return s;
}

const SYSTEM_FINGERPRINT = "fp_" + randomBytes(5).toString("hex");

function int(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v))
    throw invalidRequest(
      `Invalid type for '${key}': expected an integer, but got ${typeof v === "number" ? "a decimal" : typeof v} instead.`,
      key,
      "invalid_type",
    );
  if (v < min || v > max)
    throw invalidRequest(
      `Invalid '${key}': integer ${v < min ? "below minimum" : "above maximum"} value. Expected a value ${v < min ? ">=" : "<="} ${v < min ? min : max}, but got ${v} instead.`,
      key,
      v < min ? "integer_below_min_value" : "integer_above_max_value",
    );
  return v;
}

function num(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number")
    throw invalidRequest(`Invalid type for '${key}': expected a number, but got ${typeof v} instead.`, key, "invalid_type");
  if (v < min || v > max)
    throw invalidRequest(`Invalid '${key}': expected a value between ${min} and ${max}, but got ${v} instead.`, key, "invalid_value");
  return v;
}

function bool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean")
    throw invalidRequest(`Invalid type for '${key}': expected a boolean, but got ${typeof v} instead.`, key, "invalid_type");
  return v;
}

function stops(body: Record<string, unknown>): string[] {
  const s = body.stop;
  if (s === undefined || s === null) return [];
  const list = typeof s === "string" ? [s] : Array.isArray(s) && s.every((x) => typeof x === "string") ? (s as string[]) : undefined;
  if (!list) throw invalidRequest("Invalid type for 'stop': expected a string or an array of strings.", "stop", "invalid_type");
  if (list.length > 4)
    throw invalidRequest("Invalid 'stop': array too long. Expected an array with maximum length 4.", "stop", "array_above_max_length");
  return list.filter((x) => x !== "");
}

function streamOptions(body: Record<string, unknown>, stream: boolean): boolean {
  const so = body.stream_options;
  if (so === undefined || so === null) return false;
  if (!stream)
    throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value");
  if (!isObject(so)) throw invalidRequest("Invalid type for 'stream_options': expected an object.", "stream_options", "invalid_type");
  return so.include_usage === true;
}

/** Cuts generated text at the first stop sequence or at the token limit, as the model would stop. */
function finishText(
  tok: Tokenizer,
  text: string,
  stopList: string[],
  limit: number | undefined,
  filterAfter: number | undefined,
): Pick<Generated, "content" | "tokens" | "finish"> {
  let finish: FinishReason = "stop";
  let cut = text.length;
  for (const s of stopList) {
    const at = text.indexOf(s);
    if (at >= 0 && at < cut) cut = at;
  }
  let content = text.slice(0, cut);
  let tokens = tok.encode(content);
  if (limit !== undefined && tokens.length > limit) {
    tokens = tokens.slice(0, limit);
    content = tok.decode(tokens);
    finish = "length";
  }
  if (filterAfter !== undefined && tokens.length > filterAfter) {
    tokens = tokens.slice(0, filterAfter);
    content = tok.decode(tokens);
    finish = "content_filter";
  } else if (filterAfter !== undefined) {
    finish = "content_filter";
  }
  return { content, tokens, finish };
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
  messages.forEach((m: unknown, i) => {
    if (!isObject(m)) throw invalidRequest(`Invalid type for 'messages[${i}]': expected an object.`, `messages[${i}]`, "invalid_type");
    if (typeof m.role !== "string")
      throw invalidRequest(`Missing required parameter: 'messages[${i}].role'.`, `messages[${i}].role`, "missing_required_parameter");
    if (!ROLES.includes(m.role))
      throw invalidRequest(
        `Invalid value: '${m.role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `messages[${i}].role`,
        "invalid_value",
      );
    const c = m.content;
    const contentOk = typeof c === "string" || Array.isArray(c) || ((c === null || c === undefined) && m.role === "assistant");
    if (!contentOk)
      throw invalidRequest(
        `Invalid type for 'messages[${i}].content': expected one of a string or array of objects.`,
        `messages[${i}].content`,
        "invalid_type",
      );
    if (Array.isArray(c))
      c.forEach((part: unknown, j) => {
        if (!isObject(part) || typeof part.type !== "string")
          throw invalidRequest(
            `Missing required parameter: 'messages[${i}].content[${j}].type'.`,
            `messages[${i}].content[${j}].type`,
            "missing_required_parameter",
          );
      });
    if (m.role === "tool" && typeof m.tool_call_id !== "string")
      throw invalidRequest(
        `Missing required parameter: 'messages[${i}].tool_call_id'.`,
        `messages[${i}].tool_call_id`,
        "missing_required_parameter",
      );
  });
  const msgs = messages as Record<string, unknown>[];

  const stream = bool(body, "stream") ?? false;
  const includeUsage = streamOptions(body, stream);
  const n = int(body, "n", 1, 128) ?? 1;
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
  let functions: { name: string; parameters?: unknown }[] = [];
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) throw invalidRequest("Invalid type for 'tools': expected an array.", "tools", "invalid_type");
    functions = tools.map((t: unknown, i) => {
      const fn = isObject(t) && t.type === "function" && isObject(t.function) ? t.function : undefined;
      if (!fn || typeof fn.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(fn.name))
        throw invalidRequest(
          `Invalid 'tools[${i}]': expected {"type": "function", "function": {"name": ...}} with a name of 1-64 letters, digits, '_' or '-'.`,
          `tools[${i}].function.name`,
          "invalid_value",
        );
      return { name: fn.name, parameters: fn.parameters };
    });
  }
  const toolChoice = body.tool_choice;
  let callTool: string | undefined;
  if (toolChoice !== undefined && toolChoice !== null) {
    if (!functions.length)
      throw invalidRequest(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        "tool_choice",
        null,
      );
    if (toolChoice === "required") callTool = functions[0]!.name;
    else if (isObject(toolChoice) && isObject(toolChoice.function) && typeof toolChoice.function.name === "string") {
      const wanted = toolChoice.function.name;
      if (!functions.some((f) => f.name === wanted))
        throw invalidRequest(
          `Invalid value for 'tool_choice': no function named '${wanted}' was specified in the 'tools' parameter.`,
          "tool_choice",
          null,
        );
      callTool = wanted;
    } else if (toolChoice !== "auto" && toolChoice !== "none")
      throw invalidRequest(
        "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.",
        "tool_choice",
        "invalid_value",
      );
  }
  // "auto": answer a user's turn with a call to the first tool, and a tool result with text, so agent loops end.
  if (
    (toolChoice === undefined || toolChoice === null || toolChoice === "auto") &&
    functions.length &&
    msgs[msgs.length - 1]?.role === "user"
  )
    callTool = functions[0]!.name;

  // Response format.
  const rf = body.response_format;
  let format: "text" | "json_object" | { schema: unknown } = "text";
  if (rf !== undefined && rf !== null) {
    if (!isObject(rf) || typeof rf.type !== "string")
      throw invalidRequest("Invalid type for 'response_format': expected an object with a 'type'.", "response_format", "invalid_type");
    if (rf.type === "json_object") {
      const mentionsJson = msgs.some((m) =>
        JSON.stringify(m.content ?? "")
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
    } else if (rf.type === "json_schema") {
      const js = rf.json_schema;
      if (!isObject(js) || typeof js.name !== "string")
        throw invalidRequest(
          "Missing required parameter: 'response_format.json_schema.name'.",
          "response_format.json_schema.name",
          "missing_required_parameter",
        );
      format = { schema: js.schema ?? { type: "object", properties: {} } };
    } else if (rf.type !== "text")
      throw invalidRequest(
        `Invalid value: '${String(rf.type)}'. Supported values are: 'json_object', 'json_schema', and 'text'.`,
        "response_format.type",
        "invalid_value",
      );
  }

  if (faults.contentFilter) throw contentFilterError();

  const tok = tokenizerFor(deployment.model);
  const promptTokens = countChatPromptTokens(tok, msgs, Array.isArray(tools) ? tools : undefined);
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
      ? digest(ctxSeed, deployment.model, seed, msgs, rf ?? null, tools ?? null, toolChoice ?? null)
      : digest(fallback.nextUint32(), fallback.nextUint32());
  const choices: Generated[] = [];
  for (let i = 0; i < n; i++) {
    const random = new Random(`${base}:${i}`);
    if (callTool !== undefined) {
      const fn = functions.find((f) => f.name === callTool)!;
      const args = JSON.stringify(sampleFromSchema(fn.parameters ?? { type: "object", properties: {} }, random));
      choices.push({
        content: null,
        tokens: [],
        toolCalls: [{ id: id("call_", random).slice(0, 29), name: fn.name, arguments: args }],
        finish: "tool_calls",
        completionTokens: tok.count(fn.name) + tok.count(args) + 7,
      });
      continue;
    }
    const length = random.int(20, 60);
    const text =
      format === "text"
        ? generateProse(random, length)
        : format === "json_object"
          ? JSON.stringify({ answer: generateProse(random, length) })
          : JSON.stringify(sampleFromSchema(format.schema, random));
    const done = finishText(tok, text, format === "text" ? stopList : [], maxTokens, faults.finishContentFilterAfterTokens);
    choices.push({ ...done, completionTokens: done.tokens.length });
  }

  const plan: ChatPlan = { kind: "chat", stream, includeUsage, promptTokens, choices, logprobs, topLogprobs };
  return {
    // Azure charges the prompt plus the most the completion may use, per choice.
    chargeTokens: promptTokens + (maxTokens ?? 0) * n,
    stream,
    respond: (ctx) => (stream ? streamChat(ctx, plan, tok) : answerChat(ctx, plan, tok)),
  };
}

function logprobsFor(tok: Tokenizer, tokens: number[], top: number, random: Random) {
  return {
    content: tokens.map((t) => {
      const token = tok.decode([t]);
      const logprob = -Math.round(random.next() * 2000) / 1000;
      return {
        token,
        logprob,
        bytes: [...Buffer.from(token)],
        top_logprobs: Array.from({ length: top }, (_, k) => {
          const alt = k === 0 ? token : `${token}${k}`;
          return { token: alt, logprob: logprob - k, bytes: [...Buffer.from(alt)] };
        }),
      };
    }),
    refusal: null,
  };
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

async function answerChat(ctx: RequestContext, plan: ChatPlan, tok: Tokenizer): Promise<void> {
  const completionTokens = plan.choices.reduce((a, c) => a + c.completionTokens, 0);
  const longest = Math.max(0, ...plan.choices.map((c) => c.completionTokens));
  const tps = ctx.latency.tokensPerSecond;
  const wait = ctx.sampleMs(ctx.latency.timeToFirstTokenMs) + (tps > 0 ? (longest * 1000) / tps : 0) + ctx.faults.delayMs;
  if (!(await ctx.sleep(wait))) return;
  ctx.recordUsage(plan.promptTokens, completionTokens);
  ctx.sendJson(200, {
    id: id("chatcmpl-", ctx.random),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: modelName(ctx.deployment),
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: plan.choices.map((c, index) => ({
      index,
      message: {
        role: "assistant",
        content: c.content,
        refusal: null,
        annotations: [],
        ...(c.toolCalls
          ? { tool_calls: c.toolCalls.map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: t.arguments } })) }
          : {}),
      },
      finish_reason: c.finish,
      logprobs: plan.logprobs && c.toolCalls === undefined ? logprobsFor(tok, c.tokens, plan.topLogprobs, ctx.random) : null,
      content_filter_results: choiceFilterResults(c.finish === "content_filter" ? FILTERED_CATEGORY : undefined),
    })),
    usage: usageOf(plan.promptTokens, completionTokens),
    prompt_filter_results: promptFilterResults(),
  });
}

/** One SSE event per chunk, exactly as Azure frames them. */
function event(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/**
 * Streams a chat completion as Azure does: prompt filter results with empty choices, a role chunk,
 * one content chunk per token paced by the latency model, the finish chunk, the usage chunk when
 * asked, `[DONE]`. Stops generating when the client goes away.
 */
async function streamChat(ctx: RequestContext, plan: ChatPlan, tok: Tokenizer): Promise<void> {
  const { res, faults } = ctx;
  const base = {
    id: id("chatcmpl-", ctx.random),
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
  const ttft = ctx.sampleMs(ctx.latency.timeToFirstTokenMs) + faults.delayMs;
  const tpsMean = ctx.latency.tokensPerSecond;
  const tps = tpsMean > 0 ? Math.max(tpsMean * 0.1, sampleNonNegative(ctx.random, tpsMean, tpsMean * ctx.latency.stdDevRatio)) : 0;
  const start = performance.now();
  if (!(await ctx.sleep(ttft))) return abandon(ctx, plan, 0);

  res.writeHead(200, { ...ctx.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  res.write(event({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: promptFilterResults() }));
  plan.choices.forEach((c, i) =>
    res.write(
      event(
        chunk(
          i,
          c.toolCalls ? { role: "assistant", content: null, refusal: null } : { role: "assistant", content: "", refusal: null },
          null,
        ),
      ),
    ),
  );

  // Tool calls stream as a header chunk and argument fragments; text streams one token per chunk.
  const pieces = plan.choices.map((c) => {
    if (!c.toolCalls) return c.tokens.map((t) => ({ content: tok.decode([t]), token: t }));
    const call = c.toolCalls[0]!;
    const args = call.arguments.match(/.{1,12}/gs) ?? [];
    return [{ toolHeader: call }, ...args.map((a) => ({ args: a }))];
  });
  const steps = Math.max(0, ...pieces.map((p) => p.length));
  const inlineFilter = asyncFilter ? {} : choiceFilterResults();
  let sent = 0;
  for (let step = 0; step < steps; step++) {
    if (!(await nextStep(ctx, start + ttft, tps, step))) return abandon(ctx, plan, sent);
    plan.choices.forEach((c, i) => {
      const p = pieces[i]![step];
      if (!p) return;
      if ("content" in p) {
        const lp = plan.logprobs ? logprobsFor(tok, [p.token], plan.topLogprobs, ctx.random) : null;
        res.write(event(chunk(i, { content: p.content }, null, inlineFilter, lp)));
      } else if ("toolHeader" in p) {
        const t = p.toolHeader;
        res.write(
          event(chunk(i, { tool_calls: [{ index: 0, id: t.id, type: "function", function: { name: t.name, arguments: "" } }] }, null)),
        );
      } else {
        res.write(event(chunk(i, { tool_calls: [{ index: 0, function: { arguments: p.args } }] }, null)));
      }
    });
    sent++;
  }

  plan.choices.forEach((c, i) =>
    res.write(event(chunk(i, {}, c.finish, c.finish === "content_filter" ? choiceFilterResults(FILTERED_CATEGORY) : {}))),
  );
  if (asyncFilter) {
    // Azure's asynchronous filter: annotation-only chunks after the content, with no delta and empty ids.
    plan.choices.forEach((c, i) => {
      const end = (c.content ?? "").length;
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
  const completionTokens = plan.choices.reduce((a, c) => a + c.completionTokens, 0);
  if (plan.includeUsage) res.write(event({ ...base, choices: [], usage: usageOf(plan.promptTokens, completionTokens) }));
  res.write("data: [DONE]\n\n");
  ctx.recordUsage(plan.promptTokens, completionTokens);
  res.end();
}

/**
 * Waits until token `step` is due (first token at `firstAt`, then `tps` a second; 0 = no pacing).
 * False when the stream must stop: the client went away, or the `drop` fault cuts it here (no
 * finish chunk, no [DONE]).
 */
async function nextStep(ctx: RequestContext, firstAt: number, tps: number, step: number): Promise<boolean> {
  if (tps > 0) {
    const wait = firstAt + (step * 1000) / tps - performance.now();
    if (wait >= 1 && !(await ctx.sleep(wait))) return false;
  }
  if (ctx.signal.aborted) return false;
  if (ctx.faults.dropAfterTokens !== undefined && step >= ctx.faults.dropAfterTokens) {
    ctx.dropConnection();
    return false;
  }
  return true;
}

/** The client went away (or the connection was dropped): count what was generated so far. */
function abandon(ctx: RequestContext, plan: ChatPlan | CompletionPlan, stepsSent: number): void {
  const completionTokens = plan.choices.reduce((a, c) => a + Math.min(c.completionTokens, stepsSent), 0);
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
  const p = body.prompt;
  const prompts = typeof p === "string" ? [p] : Array.isArray(p) && p.every((x) => typeof x === "string") ? (p as string[]) : undefined;
  if (!prompts || prompts.length === 0)
    throw invalidRequest("Missing required parameter: 'prompt' (a string or an array of strings).", "prompt", "missing_required_parameter");
  const stream = bool(body, "stream") ?? false;
  const includeUsage = streamOptions(body, stream);
  const n = int(body, "n", 1, 128) ?? 1;
  // The completions API's own default.
  const maxTokens = int(body, "max_tokens", 0, 1_000_000) ?? 16;
  const echo = bool(body, "echo") ?? false;
  num(body, "temperature", 0, 2);
  const seed = int(body, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const stopList = stops(body);
  if (faults.contentFilter) throw contentFilterError();
  const tok = tokenizerFor(deployment.model);
  const promptTokens = prompts.reduce((a, x) => a + tok.count(x), 0);
  const base = seed !== undefined ? digest(ctxSeed, deployment.model, seed, prompts) : digest(fallback.nextUint32(), fallback.nextUint32());
  const choices: Generated[] = [];
  prompts.forEach((_, pi) => {
    for (let i = 0; i < n; i++) {
      const random = new Random(`${base}:${pi}:${i}`);
      const done = finishText(
        tok,
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
    echo: prompts.flatMap((x) => Array<string>(n).fill(echo ? x : "")),
  };
  return {
    chargeTokens: promptTokens + maxTokens * n * prompts.length,
    stream,
    respond: (ctx) => (stream ? streamCompletion(ctx, plan, tok) : answerCompletion(ctx, plan)),
  };
}

async function answerCompletion(ctx: RequestContext, plan: CompletionPlan): Promise<void> {
  const completionTokens = plan.choices.reduce((a, c) => a + c.completionTokens, 0);
  const longest = Math.max(0, ...plan.choices.map((c) => c.completionTokens));
  const tps = ctx.latency.tokensPerSecond;
  if (!(await ctx.sleep(ctx.sampleMs(ctx.latency.timeToFirstTokenMs) + (tps > 0 ? (longest * 1000) / tps : 0) + ctx.faults.delayMs)))
    return;
  ctx.recordUsage(plan.promptTokens, completionTokens);
  ctx.sendJson(200, {
    id: id("cmpl-", ctx.random),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: modelName(ctx.deployment),
    choices: plan.choices.map((c, index) => ({
      text: (plan.echo[index] ?? "") + (c.content ?? ""),
      index,
      finish_reason: c.finish,
      logprobs: null,
      content_filter_results: choiceFilterResults(c.finish === "content_filter" ? FILTERED_CATEGORY : undefined),
    })),
    usage: { prompt_tokens: plan.promptTokens, completion_tokens: completionTokens, total_tokens: plan.promptTokens + completionTokens },
    prompt_filter_results: promptFilterResults(),
  });
}

async function streamCompletion(ctx: RequestContext, plan: CompletionPlan, tok: Tokenizer): Promise<void> {
  const { res } = ctx;
  const base = {
    id: id("cmpl-", ctx.random),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: modelName(ctx.deployment),
  };
  ctx.counters.streams++;
  const ttft = ctx.sampleMs(ctx.latency.timeToFirstTokenMs) + ctx.faults.delayMs;
  const tps = ctx.latency.tokensPerSecond;
  const start = performance.now();
  if (!(await ctx.sleep(ttft))) return abandon(ctx, plan, 0);
  res.writeHead(200, { ...ctx.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  res.write(event({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: promptFilterResults() }));
  const steps = Math.max(0, ...plan.choices.map((c) => c.tokens.length));
  let sent = 0;
  for (let step = 0; step < steps; step++) {
    if (!(await nextStep(ctx, start + ttft, tps, step))) return abandon(ctx, plan, sent);
    plan.choices.forEach((c, index) => {
      const t = c.tokens[step];
      if (t === undefined) return;
      const text = (step === 0 ? (plan.echo[index] ?? "") : "") + tok.decode([t]);
      res.write(
        event({ ...base, choices: [{ text, index, logprobs: null, finish_reason: null, content_filter_results: choiceFilterResults() }] }),
      );
    });
    sent++;
  }
  plan.choices.forEach((c, index) =>
    res.write(event({ ...base, choices: [{ text: "", index, logprobs: null, finish_reason: c.finish, content_filter_results: {} }] })),
  );
  const completionTokens = plan.choices.reduce((a, c) => a + c.completionTokens, 0);
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

/**
 * What the simulated model says, shared by chat completions and the Responses API: English-like
 * prose, or JSON for a structured-output format; cut at a stop sequence, at the token limit or by
 * an injected content filter; function calls whose arguments follow the function's JSON schema;
 * the rule that decides when the model calls a function; log probabilities. The same random
 * source gives the same answer, so both APIs are reproducible in the same way.
 */
import type { DeploymentConfig } from "./deployments.js";
import { sampleFromSchema } from "./json-schema-sample.js";
import type { Random } from "./random.js";
import { generateProse, type Tokenizer } from "./tokens.js";

/** Why generated text ended (chat's finish_reason; the Responses API maps it to status and incomplete_details). */
export type TextFinish = "stop" | "length" | "content_filter";

/** What the text must be: prose, a JSON object, or an instance of a JSON schema (structured outputs). */
export type OutputFormat = "text" | "json_object" | { schema: unknown };

/** A function the caller declared: its name and the JSON schema of its arguments. */
export interface FunctionDeclaration {
  name: string;
  parameters?: unknown;
}

/** How the caller lets the model use its functions. A name forces that function. */
export type ToolChoice = "none" | "auto" | "required" | { name: string };

export interface GeneratedText {
  content: string;
  tokens: number[];
  finish: TextFinish;
}

export interface GeneratedCall {
  /** `call_` and 24 characters, as OpenAI's call ids. */
  callId: string;
  name: string;
  /** JSON text of an instance of the function's parameters schema. */
  arguments: string;
  /** What generating the call costs in output tokens. */
  completionTokens: number;
}

/** The model as answers name it: `gpt-4o-mini-2024-07-18` when the version is a date, else the model. */
export function modelName(deployment: DeploymentConfig): string {
  return deployment.modelVersion && /^\d{4}-\d{2}-\d{2}$/.test(deployment.modelVersion)
    ? `${deployment.model}-${deployment.modelVersion}`
    : deployment.model;
}

/** `prefix` and 29 letters and digits from `random`. */
export function randomId(prefix: string, random: Random): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let generated = prefix;
  for (let i = 0; i < 29; i++) generated += alphabet[random.int(0, alphabet.length - 1)];
  return generated;
}

/** Cuts generated text at the first stop sequence, at the token limit or where the content filter stops it, as the model would stop. */
export function finishText(
  tokenizer: Tokenizer,
  text: string,
  stopList: string[],
  limit: number | undefined,
  filterAfter: number | undefined,
): GeneratedText {
  let finish: TextFinish = "stop";
  let cut = text.length;
  for (const sequence of stopList) {
    const at = text.indexOf(sequence);
    if (at >= 0 && at < cut) cut = at;
  }
  let content = text.slice(0, cut);
  let tokens = tokenizer.encode(content);
  if (limit !== undefined && tokens.length > limit) {
    tokens = tokens.slice(0, limit);
    content = tokenizer.decode(tokens);
    finish = "length";
  }
  if (filterAfter !== undefined && tokens.length > filterAfter) {
    tokens = tokens.slice(0, filterAfter);
    content = tokenizer.decode(tokens);
    finish = "content_filter";
  } else if (filterAfter !== undefined) {
    finish = "content_filter";
  }
  return { content, tokens, finish };
}

/**
 * An answer of 20-60 tokens in the format asked: prose (cut at `stops`), `{"answer": prose}`, or
 * an instance of the schema; then cut at `maxTokens` or by the `finish-content-filter` fault.
 */
export function generateText(
  tokenizer: Tokenizer,
  random: Random,
  format: OutputFormat,
  limits: { stops?: string[]; maxTokens?: number | undefined; filterAfterTokens?: number | undefined },
): GeneratedText {
  const length = random.int(20, 60);
  const text =
    format === "text"
      ? generateProse(random, length)
      : format === "json_object"
        ? JSON.stringify({ answer: generateProse(random, length) })
        : JSON.stringify(sampleFromSchema(format.schema, random));
  return finishText(tokenizer, text, format === "text" ? (limits.stops ?? []) : [], limits.maxTokens, limits.filterAfterTokens);
}

/** A call of `declared`, its arguments an instance of its parameters schema (an empty object without one). */
export function generateCall(tokenizer: Tokenizer, random: Random, declared: FunctionDeclaration): GeneratedCall {
  const args = JSON.stringify(sampleFromSchema(declared.parameters ?? { type: "object", properties: {} }, random));
  return {
    callId: randomId("call_", random).slice(0, 29),
    name: declared.name,
    arguments: args,
    completionTokens: tokenizer.count(declared.name) + tokenizer.count(args) + 7,
  };
}

/**
 * Which function the model calls, if any: `required` calls the first, a name calls that one,
 * `none` never calls; `auto` (or no choice) calls the first function when the conversation ends
 * with the user's turn and answers in text after a function's result, so agent loops end.
 */
export function functionToCall(
  functions: readonly FunctionDeclaration[],
  choice: ToolChoice | undefined,
  lastTurnIsUser: boolean,
): FunctionDeclaration | undefined {
  if (!functions.length || choice === "none") return undefined;
  if (choice === "required") return functions[0];
  if (typeof choice === "object") return functions.find((declared) => declared.name === choice.name);
  return lastTurnIsUser ? functions[0] : undefined;
}

/** Log probabilities of `tokens`, with `top` alternatives each (the first the token itself), as OpenAI reports them. */
export function tokenLogprobs(tokenizer: Tokenizer, tokens: number[], top: number, random: Random) {
  return tokens.map((tokenId) => {
    const token = tokenizer.decode([tokenId]);
    const logprob = -Math.round(random.next() * 2000) / 1000;
    return {
      token,
      logprob,
      bytes: [...Buffer.from(token)],
      top_logprobs: Array.from({ length: top }, (_, rank) => {
        const alternative = rank === 0 ? token : `${token}${rank}`;
        return { token: alternative, logprob: logprob - rank, bytes: [...Buffer.from(alternative)] };
      }),
    };
  });
}

/**
 * Token counts as Azure OpenAI bills them: the model's own encoding (o200k or cl100k, from
 * gpt-tokenizer), OpenAI's accounting of chat messages, content parts and tool definitions, and
 * deterministic English-looking prose for generated answers. The simulator's usage numbers and
 * quota charges come from here, so apps that budget tokens see the numbers Azure would report.
 */
import * as cl100k from "gpt-tokenizer/encoding/cl100k_base";
import * as o200k from "gpt-tokenizer/encoding/o200k_base";
import { estimateTokensInFunctions } from "gpt-tokenizer/functionCalling";
import type { Random } from "./random.js";

export interface Tokenizer {
  encode(text: string): number[];
  decode(tokens: number[]): string;
  count(text: string): number;
}

// User text may contain strings like "<|endoftext|>": count them as plain text, as the service does.
const plain = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

function wrap(encoding: typeof o200k): Tokenizer {
  return {
    encode: (text) => encoding.encode(text, plain),
    decode: (tokens) => encoding.decode(tokens),
    count: (text) => (text ? encoding.encode(text, plain).length : 0),
  };
}

export const O200K = wrap(o200k);
export const CL100K = wrap(cl100k as unknown as typeof o200k);

/** o200k for the gpt-4o generation and later; cl100k for gpt-3.5/gpt-4 and the embeddings models. */
export function tokenizerFor(model: string): Tokenizer {
  return /^(gpt-35|gpt-3\.5|gpt-4(-\d|-32k|-turbo)?$|gpt-4-(0613|0125|1106|turbo)|text-embedding|davinci|babbage)/i.test(model)
    ? CL100K
    : O200K;
}

// OpenAI's documented accounting: each message costs its fields plus 3, a name 1 more, and the reply is primed with 3.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;

interface ToolCallLike {
  function?: { name?: unknown; arguments?: unknown };
}

/**
 * Prompt tokens of a chat request: message roles, names and content (strings or content-part
 * arrays, images by detail), assistant tool calls, and the tool definitions.
 */
export function countChatPromptTokens(
  tokenizer: Tokenizer,
  messages: readonly Record<string, unknown>[],
  tools?: readonly unknown[],
): number {
  let total = REPLY_PRIMING;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + tokenizer.count(String(message.role ?? ""));
    if (typeof message.name === "string") total += TOKENS_PER_NAME + tokenizer.count(message.name);
    total += countContent(tokenizer, message.content);
    if (typeof message.tool_call_id === "string") total += tokenizer.count(message.tool_call_id);
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls as ToolCallLike[]) {
        total += 3 + tokenizer.count(String(call.function?.name ?? "")) + tokenizer.count(String(call.function?.arguments ?? ""));
      }
    }
  }
  if (tools && tools.length) {
    const functions = tools
      .map((tool) => (tool as { function?: unknown }).function)
      .filter(
        (declared): declared is Parameters<typeof estimateTokensInFunctions>[0][number] =>
          typeof declared === "object" && declared !== null,
      );
    try {
      total += estimateTokensInFunctions(functions, tokenizer.count) + 9;
    } catch {
      // Schemas the estimator does not know: fall back to the JSON text.
      total += tokenizer.count(JSON.stringify(functions)) + 9;
    }
  }
  return total;
}

function countContent(tokenizer: Tokenizer, content: unknown): number {
  if (typeof content === "string") return tokenizer.count(content);
  if (!Array.isArray(content)) return 0;
  let count = 0;
  for (const part of content as Record<string, unknown>[]) {
    switch (part.type) {
      case "text":
      case "refusal":
        count += tokenizer.count(String(part.text ?? part.refusal ?? ""));
        break;
      case "image_url": {
        // Low detail is a flat 85 tokens; high/auto is charged as a 2x2-tile image (85 + 4 x 170), size unknown here.
        const detail = (part.image_url as { detail?: string } | undefined)?.detail;
        count += detail === "low" ? 85 : 765;
        break;
      }
      case "input_audio":
        count += 100;
        break;
      default:
        count += tokenizer.count(JSON.stringify(part));
    }
  }
  return count;
}

const WORDS = (
  "the of and to in is that it for as with was on be by this are from at or have an they which one you were her all she there would " +
  "their we him been has when who will more no if out so said what up its about into than them can only other new some could time " +
  "these two may then do first any my now such like our over man me even most made after also did many before must through back years " +
  "where much your way well down should because each just those people how too little state good very make world still own see men work " +
  "long get here between both life being under never day same another know while last might us great old year off come since against go " +
  "came right used take three small large next early young important few public bad able sound water light river city garden music " +
  "simple quiet bright clear cloud morning evening paper window table story answer question number letter market road"
).split(" ");

/** Deterministic English-looking prose of about `approxTokens` tokens. */
export function generateProse(random: Random, approxTokens: number): string {
  const out: string[] = [];
  let sentenceLeft = 0;
  for (let i = 0; i < approxTokens; i++) {
    let word = random.pick(WORDS);
    if (sentenceLeft === 0) {
      sentenceLeft = random.int(6, 16);
      word = word[0]!.toUpperCase() + word.slice(1);
    }
    sentenceLeft--;
    if (sentenceLeft === 0 || i === approxTokens - 1) {
      word += ".";
      i++; // the period is a token of its own
    }
    out.push(word);
  }
  return out.join(" ");
}

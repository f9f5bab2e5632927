/**
 * Each capability's token estimate for a request, before it is sent: its prompt's tokens (by the
 * tokenizer, src/routing/token-estimate.ts) plus the most its answer may use, as Azure's own rate
 * limiter and API Management's estimate-prompt-tokens count it. Parts that are not text (images,
 * audio, files in a message) are not counted; the settlement with the real usage corrects that.
 */
import { contentTexts, estimateTokens, type TokenEstimate } from "../routing/token-estimate.js";

/** Legacy completions' default `max_tokens` (OpenAI's API reference). */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** Chat completions: every message's text, plus max_completion_tokens (or max_tokens). */
export function chatTokenEstimate(body: Record<string, unknown>): TokenEstimate {
  const messages = body.messages as readonly { content?: unknown }[];
  const texts: string[] = [];
  for (const message of messages) contentTexts(message.content, texts);
  const { max_completion_tokens: maxCompletion, max_tokens: maxTokens } = body as {
    max_completion_tokens?: number | null;
    max_tokens?: number | null;
  };
  return estimateTokens(texts, messages.length, maxCompletion ?? maxTokens ?? 0);
}

/** Legacy completions: the prompt (text, or token ids counted as they are), plus max_tokens (16 when absent). */
export function completionsTokenEstimate(body: Record<string, unknown>): TokenEstimate {
  const prompt = body.prompt as string | string[] | number[] | number[][];
  const texts: string[] = [];
  let tokenIds = 0;
  for (const part of Array.isArray(prompt) ? prompt : [prompt]) {
    if (typeof part === "string") texts.push(part);
    else if (typeof part === "number") tokenIds += 1;
    else tokenIds += part.length;
  }
  const maxTokens = (body.max_tokens as number | null | undefined) ?? COMPLETIONS_DEFAULT_MAX_TOKENS;
  return estimateTokens(texts, 0, maxTokens + tokenIds);
}

/** Responses: instructions and every input item's text, plus max_output_tokens. */
export function responsesTokenEstimate(body: { instructions?: unknown; input?: unknown; max_output_tokens?: unknown }): TokenEstimate {
  const texts: string[] = [];
  if (typeof body.instructions === "string") texts.push(body.instructions);
  let items = 0;
  if (typeof body.input === "string") {
    texts.push(body.input);
    items = 1;
  } else if (Array.isArray(body.input)) {
    for (const item of body.input as unknown[]) {
      items += 1;
      if (typeof item === "string") texts.push(item);
      else if (item && typeof item === "object") {
        const { content, output, arguments: args } = item as { content?: unknown; output?: unknown; arguments?: unknown };
        contentTexts(content, texts);
        // Function call outputs and arguments are text the model reads too.
        if (typeof output === "string") texts.push(output);
        if (typeof args === "string") texts.push(args);
      }
    }
  }
  const maxOutput = typeof body.max_output_tokens === "number" ? body.max_output_tokens : 0;
  return estimateTokens(texts, items, maxOutput);
}

/** Embeddings: the inputs' tokens (token ids counted as they are); an embedding has no answer tokens. */
export function embeddingsTokenEstimate(input: string | string[] | number[] | number[][]): TokenEstimate {
  const texts: string[] = [];
  let tokenIds = 0;
  for (const part of Array.isArray(input) ? input : [input]) {
    if (typeof part === "string") texts.push(part);
    else if (typeof part === "number") tokenIds += 1;
    else tokenIds += part.length;
  }
  return estimateTokens(texts, 0, tokenIds);
}

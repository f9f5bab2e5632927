/**
 * A call's token estimate for the router's quota check: the prompt's tokens by the tokenizer plus
 * the most tokens the answer may use, as Azure's rate limiter counts a request against
 * tokens-per-minute before running it.
 *
 * Two levels, because the router asks only when a backend's remaining quota is low, and then
 * usually a bound settles it: `atMost` costs a length sum (a token is at least one UTF-8 byte, and
 * a UTF-16 code unit at most three), `exact()` runs the tokenizer. The tokenizer (cl100k_base;
 * o200k models count within a few percent of it) is loaded on first need, off the cold start;
 * until it has loaded, the bound stands in for the count.
 */

export interface TokenEstimate {
  /** An upper bound, cheap to know. */
  atMost: number;
  /** The tokenizer's count (the bound until the tokenizer has loaded). */
  exact: () => number;
}

/** What each message costs beyond its text (role and separators), as OpenAI's counting guide describes. */
const TOKENS_PER_MESSAGE = 4;

type Counter = (text: string) => number;
let counter: Counter | undefined;
let loading: Promise<void> | undefined;

function loadCounter(): void {
  loading ??= import("../embeddings/tokenizer.js").then(
    (module) => void (counter = module.countTokens),
    () => undefined, // without a tokenizer the bound keeps standing in
  );
}

/**
 * Resolves once the tokenizer has loaded (or failed to), so that `exact()` counts: for per-caller
 * limits, which charge the estimate against a budget, where the bound would overstate it threefold.
 */
export function tokenCounterLoaded(): Promise<void> {
  loadCounter();
  return loading ?? Promise.resolve();
}

/** The estimate for texts sent in `messages` messages, with at most `maxOutputTokens` in the answer. */
export function estimateTokens(texts: readonly string[], messages: number, maxOutputTokens: number): TokenEstimate {
  let units = 0;
  for (const text of texts) units += text.length;
  const fixed = messages * TOKENS_PER_MESSAGE + maxOutputTokens;
  const atMost = units * 3 + fixed;
  return {
    atMost,
    exact: () => {
      if (!counter) {
        loadCounter();
        return atMost;
      }
      let tokens = fixed;
      for (const text of texts) tokens += counter(text);
      return tokens;
    },
  };
}

/** Every string in a message's content: a plain string, or the `text` of its parts (images and audio are not counted). */
export function contentTexts(content: unknown, into: string[]): void {
  if (typeof content === "string") into.push(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (typeof part === "string") into.push(part);
      else if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string")
        into.push((part as { text: string }).text);
      else if (part && typeof part === "object" && "content" in part) contentTexts((part as { content: unknown }).content, into);
    }
  }
}

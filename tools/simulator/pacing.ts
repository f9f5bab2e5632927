/**
 * When generated tokens are due, from the deployment's latency model: a whole answer waits the
 * time to first token plus its tokens at the generation speed; a stream samples its own pace once
 * and waits for each token in turn, stopping when the client goes away, the `drop` fault cuts it
 * or the `stream-error` fault breaks it. Shared by every generating operation (chat, completions,
 * responses) so they pace and fail alike.
 */
import type { RequestContext } from "./context.js";
import { sampleNonNegative } from "./random.js";

/** A stream's pace: when its first token is due (performance.now() time) and how fast the rest follow (0 = no pacing). */
export interface StreamPace {
  firstAt: number;
  firstTokenMs: number;
  tokensPerSecond: number;
}

/** How long a non-streamed answer of `tokens` output tokens takes: time to first token, generation, and any `delay` fault. */
export function answerDelayMs(ctx: RequestContext, tokens: number): number {
  const tokensPerSecond = ctx.latency.tokensPerSecond;
  return ctx.sampleMs(ctx.latency.timeToFirstTokenMs) + (tokensPerSecond > 0 ? (tokens * 1000) / tokensPerSecond : 0) + ctx.faults.delayMs;
}

/** Samples a stream's pace: its time to first token (plus any `delay` fault) and its speed, at least a tenth of the mean. */
export function streamPace(ctx: RequestContext): StreamPace {
  const firstTokenMs = ctx.sampleMs(ctx.latency.timeToFirstTokenMs) + ctx.faults.delayMs;
  const meanTokensPerSecond = ctx.latency.tokensPerSecond;
  const tokensPerSecond =
    meanTokensPerSecond > 0
      ? Math.max(
          meanTokensPerSecond * 0.1,
          sampleNonNegative(ctx.random, meanTokensPerSecond, meanTokensPerSecond * ctx.latency.stdDevRatio),
        )
      : 0;
  return { firstAt: performance.now() + firstTokenMs, firstTokenMs, tokensPerSecond };
}

/** What a stream says when the model fails mid-way, as OpenAI's streams say it (the `openai` client throws an APIError on it). */
export const STREAM_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!";

/**
 * Waits until token `step` is due (the first at `pace.firstAt`, then `pace.tokensPerSecond`).
 * False when the stream must stop: the client went away, the `drop` fault cuts it here, or the
 * `stream-error` fault breaks it here (`sendError` writes the operation's error event, then the
 * answer ends, without its closing events).
 */
export async function nextStep(
  ctx: RequestContext,
  pace: Pick<StreamPace, "firstAt" | "tokensPerSecond">,
  step: number,
  sendError: () => void,
): Promise<boolean> {
  if (pace.tokensPerSecond > 0) {
    const wait = pace.firstAt + (step * 1000) / pace.tokensPerSecond - performance.now();
    if (wait >= 1 && !(await ctx.sleep(wait))) return false;
  }
  if (ctx.signal.aborted) return false;
  if (ctx.faults.dropAfterTokens !== undefined && step >= ctx.faults.dropAfterTokens) {
    ctx.dropConnection();
    return false;
  }
  if (ctx.faults.streamErrorAfterTokens !== undefined && step >= ctx.faults.streamErrorAfterTokens) {
    sendError();
    ctx.res.end();
    return false;
  }
  return true;
}

/**
 * Per-caller token limits, as API Management's token-limit policy applies them per key: before the
 * upstream call a request reserves its estimate (prompt + the most the answer may use) in its
 * caller's minute and day windows, or is refused with 429; when the answer's real usage is known,
 * the reservation is settled to it, giving back what the estimate overstated (or charging what it
 * understated: a request without max_tokens reserves only its prompt).
 */
import { AppError, CALLER_TOKEN_LIMIT_EXCEEDED } from "../errors.js";
import type { CounterStore } from "./counter-store.js";
import { limitsFor, type CallerLimitsTable, type TokenLimits } from "./limits-table.js";
import { adjust, dayOf, decide, minuteOf, type LimitWindow, type Remaining } from "./window-counts.js";

/** Remaining tokens of the caller's minute window after this request, as APIM's remaining-tokens header. */
export const REMAINING_TOKENS_HEADER = "x-caller-remaining-tokens";
/** Remaining tokens of the caller's UTC day, as APIM's remaining-quota-tokens header. */
export const REMAINING_QUOTA_TOKENS_HEADER = "x-caller-remaining-quota-tokens";
/** Tokens this request was charged (its real usage; non-streamed answers only), as APIM's tokens-consumed header. */
export const TOKENS_CONSUMED_HEADER = "x-caller-tokens-consumed";

/** The `openai` clients' own header: `false` stops their automatic retries of this answer. */
export const SHOULD_RETRY_HEADER = "x-should-retry";

export const LIMITS_SETTING = "CALLER_TOKEN_LIMITS";

/** One request's reservation; settle it once with what the request really used. */
export interface Reservation {
  caller: string;
  tokens: number;
  minute: number;
  day: number;
  limits: TokenLimits;
  /** Remaining tokens as of the reservation, then as of the settlement. */
  remaining: Remaining;
  /** What the settlement charged, once settled. */
  consumed?: number;
}

/** What a refusal's AppError carries in `details`. */
export interface RefusalDetails {
  window: LimitWindow;
}

/** The window that refused, when `error` is a per-caller refusal. */
export function refusedWindow(error: unknown): LimitWindow | undefined {
  if (!(error instanceof AppError) || error.code !== CALLER_TOKEN_LIMIT_EXCEEDED) return undefined;
  return (error.details as RefusalDetails).window;
}

export interface CallerLimiterOptions {
  /** The clock (epoch ms); tests move it across window boundaries. */
  now?: () => number;
}

export class CallerLimiter {
  private readonly now: () => number;

  constructor(
    readonly table: CallerLimitsTable,
    private readonly store: CounterStore,
    private readonly options: CallerLimiterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The caller's limits, or undefined when it is not limited (then nothing need be estimated). */
  limitsOf(caller: string): TokenLimits | undefined {
    return limitsFor(this.table, caller);
  }

  /**
   * Reserves `tokens` for `caller`, who must be limited (limitsOf).
   * @throws AppError `throttled` (code caller_token_limit_exceeded) with Retry-After and the
   *   remaining-tokens headers when a window has no room; storage errors (the shared store) as they come.
   */
  async reserve(caller: string, limits: TokenLimits, tokens: number): Promise<Reservation> {
    const now = this.now();
    const decision = await this.store.update(caller, now, (stored) => {
      const decided = decide(stored, now, limits, tokens);
      return { counts: decided.allowed ? decided.counts : undefined, result: decided };
    });
    if (!decision.allowed) {
      const retryAfterInMs = Math.max(1, decision.resetsAt - now);
      const headers = remainingHeaders(decision.remaining);
      // The official `openai` clients wait out any Retry-After before their own retries, however
      // long: waiting hours for the next UTC day, or for nothing (a request that can never fit),
      // would hang the caller. `x-should-retry: false` makes them give up at once instead.
      if (decision.window === "day" || decision.neverFits) headers[SHOULD_RETRY_HEADER] = "false";
      throw new AppError("throttled", refusalMessage(caller, tokens, decision, retryAfterInMs), {
        code: CALLER_TOKEN_LIMIT_EXCEEDED,
        retryAfterInMs,
        answerHeaders: headers,
        // Which window refused, for the `aoai.caller_limit_rejections` metric (not sent to the caller).
        details: { window: decision.window } satisfies RefusalDetails,
      });
    }
    return { caller, tokens, minute: minuteOf(now), day: dayOf(now), limits, remaining: decision.remaining };
  }

  /**
   * Settles a reservation to what the request really used: the difference is given back (or
   * charged) in the windows it was reserved in, if they are still current. `reservation.remaining`
   * and `consumed` are updated at once (as this request's own change to them), before the store is:
   * an answer need not wait for the shared store's write.
   * @throws (the promise) storage errors (the shared store) as they come.
   */
  settle(reservation: Reservation, usedTokens: number): Promise<void> {
    const delta = usedTokens - reservation.tokens;
    reservation.consumed = usedTokens;
    const now = this.now();
    if (delta === 0 || dayOf(now) !== reservation.day) return Promise.resolve();
    const { limits } = reservation;
    const left = reservation.remaining;
    const within = (remaining: number | undefined, limit: number | undefined, current: boolean) =>
      remaining === undefined || limit === undefined ? undefined : current ? Math.min(limit, Math.max(0, remaining - delta)) : limit;
    reservation.remaining = {
      ...(left.minute === undefined ? {} : { minute: within(left.minute, limits.tokensPerMinute, minuteOf(now) === reservation.minute) }),
      ...(left.day === undefined ? {} : { day: within(left.day, limits.tokensPerDay, true) }),
    };
    return this.store
      .update(reservation.caller, now, (stored) => ({ counts: adjust(stored, now, reservation, delta), result: undefined }))
      .then(() => undefined);
  }
}

/** The remaining-tokens headers of the windows the caller is limited on. */
export function remainingHeaders(remaining: Remaining): Record<string, string> {
  const headers: Record<string, string> = {};
  if (remaining.minute !== undefined) headers[REMAINING_TOKENS_HEADER] = String(remaining.minute);
  if (remaining.day !== undefined) headers[REMAINING_QUOTA_TOKENS_HEADER] = String(remaining.day);
  return headers;
}

/** Which limit, how full, when it resets and how to raise it; never the request's text. */
function refusalMessage(
  caller: string,
  tokens: number,
  decision: { window: LimitWindow; limit: number; used: number; neverFits: boolean; resetsAt: number },
  retryAfterInMs: number,
): string {
  const limit = `${decision.limit.toLocaleString("en-US")} tokens per ${decision.window === "minute" ? "minute" : "UTC day"}`;
  const raise = `To raise it, change the entry of "${caller}" (or "default") in the ${LIMITS_SETTING} setting`;
  if (decision.neverFits) {
    return (
      `This request needs about ${tokens.toLocaleString("en-US")} tokens (its prompt and max_tokens), more than caller "${caller}"'s ` +
      `whole limit of ${limit}, so it can never pass: lower max_tokens or shorten the input. ${raise}`
    );
  }
  const resets = new Date(decision.resetsAt).toISOString().replace(/\.000Z$/, "Z");
  return (
    `Caller "${caller}" has used ${decision.used.toLocaleString("en-US")} of its ${limit}, and this request needs about ` +
    `${tokens.toLocaleString("en-US")} (its prompt and max_tokens). The count resets at ${resets} (in ${Math.ceil(retryAfterInMs / 1000)} s). ${raise}`
  );
}

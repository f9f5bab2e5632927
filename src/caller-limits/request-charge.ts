/**
 * One HTTP request's charge against its caller's token limits, as the OpenAI-compatible handlers
 * use it: reserve the estimate before the upstream call (or answer 429), tally the usage Azure
 * reports for each call the request makes (failover may make several), and settle once when the
 * answer is complete: a non-streamed answer before it is sent (its headers show the settled
 * count), a stream when it ends. The shared store's write of the settlement is not waited for.
 *
 * What a request is charged in the end:
 * - the tokens Azure reported (prompt + completion) for every call it answered;
 * - the estimate for an answer Azure began without reporting usage (a stream cut off, or left by
 *   its caller, before the usage chunk): it was billed, and the estimate is the best figure;
 * - nothing when no call was answered (refused, throttled, unreachable): Azure bills none.
 */
import { CALLER_TOKEN_LIMIT_EXCEEDED, classifyError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { CallUsage } from "../openai/call-log.js";
import { TOKENS_CONSUMED_HEADER, remainingHeaders, type CallerLimiter, type Reservation } from "./caller-limiter.js";

export interface RequestCharge {
  /** For the services' dependencies: told the usage of each call Azure answered; undefined when the caller is not limited. */
  onUsage: ((usage: CallUsage) => void) | undefined;
  /** The answer's headers: the remaining tokens, and once settled what the request was charged. */
  headers(): Record<string, string>;
  /**
   * Settles the reservation (once): the headers show it at once, and the count is written without
   * the answer waiting for it (the shared store's write goes on in the background; a failure is
   * logged, and the estimate stays charged). Never throws.
   */
  settle(): Promise<void>;
  /** The stream's events, settling the charge when the stream ends, fails or is left. */
  settledWhenDone<T>(events: AsyncIterable<T>): AsyncIterable<T>;
}

const NOT_CHARGED: RequestCharge = {
  onUsage: undefined,
  headers: () => ({}),
  settle: () => Promise.resolve(),
  settledWhenDone: (events) => events,
};

/**
 * Reserves the request's estimate for its caller; a caller without limits (or no limiter) costs nothing.
 * @param estimate the request's tokens: its prompt and the most its answer may use; asked only for a limited caller.
 * @throws AppError `throttled` (caller_token_limit_exceeded) when the caller is over a limit. A store
 *   that cannot be reached does not refuse the request: it goes ahead unlimited, and the failure is logged.
 */
export async function chargeCaller(
  limiter: CallerLimiter | undefined,
  caller: string,
  estimate: () => number | Promise<number>,
  logger: Logger,
): Promise<RequestCharge> {
  const limits = limiter?.limitsOf(caller);
  if (!limiter || !limits) return NOT_CHARGED;
  const estimated = await estimate();
  let reservation: Reservation;
  try {
    reservation = await limiter.reserve(caller, limits, estimated);
  } catch (error) {
    if (classifyError(error).code === CALLER_TOKEN_LIMIT_EXCEEDED) throw error;
    logger.error(`Per-caller token limits could not be checked (${classifyError(error).message}); the request goes ahead unlimited`);
    return NOT_CHARGED;
  }
  return new ReservedCharge(limiter, reservation, logger);
}

class ReservedCharge implements RequestCharge {
  private answered = false;
  private reportedTokens = 0;
  private unreported = false;
  private settling: Promise<void> | undefined;

  constructor(
    private readonly limiter: CallerLimiter,
    private readonly reservation: Reservation,
    private readonly logger: Logger,
  ) {}

  readonly onUsage = (usage: CallUsage): void => {
    this.answered = true;
    if (usage.promptTokens === undefined && usage.completionTokens === undefined) this.unreported = true;
    else this.reportedTokens += (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0);
  };

  headers(): Record<string, string> {
    const headers = remainingHeaders(this.reservation.remaining);
    if (this.reservation.consumed !== undefined) headers[TOKENS_CONSUMED_HEADER] = String(this.reservation.consumed);
    return headers;
  }

  settle(): Promise<void> {
    this.settling ??= this.limiter.settle(this.reservation, this.charged()).catch((error: unknown) => {
      this.logger.warn(
        `Per-caller token count of "${this.reservation.caller}" not settled (${classifyError(error).message}); it keeps the estimate of ${this.reservation.tokens} tokens`,
      );
    });
    return Promise.resolve();
  }

  private charged(): number {
    if (!this.answered) return 0;
    return this.reportedTokens + (this.unreported ? this.reservation.tokens : 0);
  }

  settledWhenDone<T>(events: AsyncIterable<T>): AsyncIterable<T> {
    // A plain iterator rather than an async generator: no extra async step per event (see call-log.ts).
    const inner = events[Symbol.asyncIterator]();
    const settleAfter = (result: IteratorResult<T>): Promise<IteratorResult<T>> => this.settle().then(() => result);
    const wrapped: AsyncIterableIterator<T> = {
      [Symbol.asyncIterator]: () => wrapped,
      next: () =>
        inner.next().then(
          (result): IteratorResult<T> | Promise<IteratorResult<T>> => (result.done ? settleAfter(result) : result),
          (error: unknown) => this.settle().then(() => Promise.reject(error as Error)),
        ),
      return: async (value?: unknown) => {
        try {
          return (await inner.return?.(value)) ?? { done: true, value: value as T };
        } finally {
          await this.settle();
        }
      },
    };
    return wrapped;
  }
}

/**
 * Decides when the next embeddings request to one deployment may go out, so the deployment's
 * tokens-per-minute quota is used nearly fully without a storm of 429s:
 *
 * - after a 429, nothing is sent until Azure's `retry-after-ms` / `retry-after` has passed, and
 *   the number of requests in flight is halved (multiplicative decrease);
 * - every response reports `x-ratelimit-remaining-tokens` / `-requests`; a request is held back
 *   while the last report, minus what was sent since, says it would not fit, unless nothing is in
 *   flight (then it goes out as a probe: its answer either succeeds or says how long to wait);
 * - while the reports show room for more, one more concurrent request is allowed per success
 *   (additive increase), up to `maxConcurrency`.
 *
 * Azure's quota is per deployment, so there is one governor per deployment in the process.
 */
export interface QuotaGovernorOptions {
  initialConcurrency?: number;
  maxConcurrency?: number;
  now?: () => number;
}

export interface QuotaSnapshot {
  concurrency: number;
  inFlight: number;
  pausedForInMs: number;
  remainingTokens: number | undefined;
  remainingRequests: number | undefined;
}

export class QuotaGovernor {
  private concurrency: number;
  private readonly maxConcurrency: number;
  private readonly now: () => number;
  private inFlight = 0;
  private pausedUntil = 0;
  /** Last reported remaining quota, minus what was sent after that report. */
  private remainingTokens: number | undefined;
  private remainingRequests: number | undefined;

  constructor(options: QuotaGovernorOptions = {}) {
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? 16);
    this.concurrency = Math.min(this.maxConcurrency, Math.max(1, options.initialConcurrency ?? 4));
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until a 429's retry delay has passed (0 when not paused). */
  pausedForInMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  /** Whether a request of `tokens` may be sent now. */
  canSend(tokens: number): boolean {
    if (this.pausedForInMs() > 0) return false;
    if (this.inFlight >= this.concurrency) return false;
    if (this.inFlight === 0) return true; // probe: its answer refreshes the quota picture
    if (this.remainingTokens !== undefined && this.remainingTokens < tokens) return false;
    if (this.remainingRequests !== undefined && this.remainingRequests < 1) return false;
    return true;
  }

  /**
   * The largest batch (in tokens) worth sending now: what the last report left, so the tail of a
   * window's quota is used by a smaller request instead of idling until a full one fits. (The
   * caller still sends at least one input: with nothing in flight, a request that does not fit is
   * the probe whose 429 says how long to wait.)
   */
  tokenAllowance(maxTokens: number): number {
    if (this.remainingTokens === undefined) return maxTokens;
    return Math.max(0, Math.min(maxTokens, this.remainingTokens));
  }

  /** Records that a request of `tokens` went out. */
  sent(tokens: number): void {
    this.inFlight++;
    if (this.remainingTokens !== undefined) this.remainingTokens -= tokens;
    if (this.remainingRequests !== undefined) this.remainingRequests -= 1;
  }

  /** Records a successful answer and its remaining-quota headers. */
  succeeded(headers: Headers | undefined, tokens: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.readRemaining(headers);
    // Grow only while the deployment says a further request of this size would still fit.
    const roomForTokens = this.remainingTokens === undefined || this.remainingTokens >= tokens * (this.inFlight + 2);
    const roomForRequests = this.remainingRequests === undefined || this.remainingRequests >= this.inFlight + 2;
    if (roomForTokens && roomForRequests) this.concurrency = Math.min(this.maxConcurrency, this.concurrency + 1);
  }

  /** Records a 429: pause for Azure's delay and halve the requests allowed in flight. */
  throttled(headers: Headers | undefined, retryAfterInMs: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + retryAfterInMs);
    this.concurrency = Math.max(1, Math.floor(this.concurrency / 2));
    this.readRemaining(headers);
  }

  /** Records any other failure (no quota information in it). */
  failed(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  snapshot(): QuotaSnapshot {
    return {
      concurrency: this.concurrency,
      inFlight: this.inFlight,
      pausedForInMs: this.pausedForInMs(),
      remainingTokens: this.remainingTokens,
      remainingRequests: this.remainingRequests,
    };
  }

  private readRemaining(headers: Headers | undefined): void {
    const tokens = readCount(headers, "x-ratelimit-remaining-tokens");
    const requests = readCount(headers, "x-ratelimit-remaining-requests");
    if (tokens !== undefined) this.remainingTokens = tokens;
    if (requests !== undefined) this.remainingRequests = requests;
  }
}

function readCount(headers: Headers | undefined, name: string): number | undefined {
  const raw = headers?.get(name);
  if (raw === null || raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

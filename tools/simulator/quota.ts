/**
 * A deployment's quota as Azure enforces it: tokens per minute and requests per minute over a
 * sliding window, charged at admission with Azure's estimate, answering how long until a refused
 * request would fit (the retry-after of the 429). Lets apps exercise their throttling paths.
 */

/** Result of asking a sliding-window quota for room. */
export type QuotaDecision =
  | { ok: true; remainingRequests: number | undefined; remainingTokens: number | undefined }
  | {
      ok: false;
      reason: "requests" | "tokens";
      retryAfterMs: number;
      remainingRequests: number | undefined;
      remainingTokens: number | undefined;
    };

interface Charge {
  at: number;
  tokens: number;
}

/**
 * Per-deployment TPM/RPM over a sliding window, charged at admission with Azure's estimate
 * (prompt tokens plus max_tokens), as Azure does: the estimate, not the actual usage, counts.
 */
export class SlidingWindowQuota {
  private charges: Charge[] = [];
  private head = 0;
  private tokensInWindow = 0;

  constructor(
    public tpm: number | undefined,
    public rpm: number | undefined,
    public windowMs: number,
  ) {}

  private expire(now: number): void {
    const cutoff = now - this.windowMs;
    while (this.head < this.charges.length && (this.charges[this.head] as Charge).at <= cutoff) {
      this.tokensInWindow -= (this.charges[this.head] as Charge).tokens;
      this.head++;
    }
    // Compact now and then so the array does not grow forever.
    if (this.head > 1024 && this.head * 2 > this.charges.length) {
      this.charges = this.charges.slice(this.head);
      this.head = 0;
    }
  }

  private get requestsInWindow(): number {
    return this.charges.length - this.head;
  }

  /** Remaining capacity now, for the `x-ratelimit-remaining-*` headers. */
  remaining(now = Date.now()): { remainingRequests: number | undefined; remainingTokens: number | undefined } {
    this.expire(now);
    return {
      remainingRequests: this.rpm ? Math.max(0, this.rpm - this.requestsInWindow) : undefined,
      remainingTokens: this.tpm ? Math.max(0, this.tpm - this.tokensInWindow) : undefined,
    };
  }

  /** Admit and charge the request, or say how long until it would fit. */
  tryCharge(tokens: number, now = Date.now()): QuotaDecision {
    this.expire(now);
    if (this.rpm && this.requestsInWindow + 1 > this.rpm) {
      const oldest = this.charges[this.head] as Charge;
      return { ok: false, reason: "requests", retryAfterMs: Math.max(1, oldest.at + this.windowMs - now), ...this.remaining(now) };
    }
    if (this.tpm && this.tokensInWindow + tokens > this.tpm) {
      // Walk the window until enough tokens would have expired; a request bigger than the whole quota waits a full window.
      let freed = this.tpm - this.tokensInWindow;
      let retryAt = now + this.windowMs;
      for (let i = this.head; i < this.charges.length; i++) {
        const charge = this.charges[i] as Charge;
        freed += charge.tokens;
        if (freed >= tokens) {
          retryAt = charge.at + this.windowMs;
          break;
        }
      }
      return { ok: false, reason: "tokens", retryAfterMs: Math.max(1, retryAt - now), ...this.remaining(now) };
    }
    this.charges.push({ at: now, tokens });
    this.tokensInWindow += tokens;
    return { ok: true, ...this.remaining(now) };
  }

  reset(): void {
    this.charges = [];
    this.head = 0;
    this.tokensInWindow = 0;
  }
}

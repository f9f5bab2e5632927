/**
 * A deployment's quota as Azure enforces it: tokens per minute and requests per minute over a
 * sliding window, charged at admission with Azure's estimate, answering how long until a refused
 * request would fit (the retry-after of the 429). Lets apps exercise their throttling paths.
 */

/**
 * The limit the `x-ratelimit-remaining-*` headers count down from when a deployment sets no TPM or
 * RPM (the simulator's "unlimited"). Azure has no unlimited deployment: every deployment is given
 * a TPM quota (and an RPM derived from it), and its answers carry both headers as plain
 * non-negative counts of what is left in the window, so a very large quota shows as a large
 * number that barely moves. This is such a quota: 2^31 - 1, far above any quota Azure's quota
 * tables list (millions to tens of millions of TPM), and still a count that clients reading the
 * header as a 32-bit integer can parse; it counts down with use as a real one does.
 * Not -1: Azure's Responses API was reported sending `x-ratelimit-remaining-tokens: -1` (a Microsoft
 * Q&A question and openai/openai-dotnet#838, November 2025, where a user met it as a sudden change),
 * and a client that paces on the header, like this app's embeddings quota governor, reads -1 as
 * "no room left" and stalls.
 */
export const UNLIMITED_QUOTA = 2_147_483_647;

/** What the `x-ratelimit-remaining-*` headers say: always a count, UNLIMITED_QUOTA based where no limit is set. */
export interface QuotaRemaining {
  remainingRequests: number;
  remainingTokens: number;
}

/** Result of asking a sliding-window quota for room. */
export type QuotaDecision =
  ({ ok: true } & QuotaRemaining) | ({ ok: false; reason: "requests" | "tokens"; retryAfterMs: number } & QuotaRemaining);

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

  /** Remaining capacity now, for the `x-ratelimit-remaining-*` headers; an unset limit counts down from UNLIMITED_QUOTA. */
  remaining(now = Date.now()): QuotaRemaining {
    this.expire(now);
    return {
      remainingRequests: Math.max(0, (this.rpm || UNLIMITED_QUOTA) - this.requestsInWindow),
      remainingTokens: Math.max(0, (this.tpm || UNLIMITED_QUOTA) - this.tokensInWindow),
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

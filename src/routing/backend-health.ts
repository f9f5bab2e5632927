/**
 * What this process knows of one backend's health, for the router's choice: a few numbers per
 * backend, updated as answers arrive and read without waiting (the hot path never blocks on it).
 *
 * - Throttled: after a 429 the backend cools down for Azure's `retry-after-ms` (or `retry-after`).
 * - Failing: after `circuitFailures` consecutive 5xx answers, connection failures or timeouts the
 *   circuit opens for `circuitBreakInMs`; then it half-opens: one request may probe it (others
 *   still pass it over), and the probe's outcome closes or reopens it.
 * - Quota: the last `x-ratelimit-remaining-tokens` / `-requests` Azure reported, believed for
 *   READING_TTL_IN_MS, so a request whose estimate would not fit is sent elsewhere first.
 *
 * Per process on purpose: instances learn the same facts from their own answers within a request
 * or two, and sharing them would put a storage round trip on every request.
 */
import type { TokenEstimate } from "./token-estimate.js";

export interface CircuitSettings {
  /** Consecutive failures that open the circuit. */
  circuitFailures: number;
  /** How long an open circuit passes the backend over before one probe may try it. */
  circuitBreakInMs: number;
}

/**
 * How long a remaining-quota reading is believed. Azure's limits refill continuously over a
 * minute, so an old reading understates the room; and a backend passed over for a low reading
 * gets no answers to refresh it. A few seconds keeps the reading useful for a burst of requests
 * without starving a backend that has refilled.
 */
export const READING_TTL_IN_MS = 5_000;

export type Availability = { available: true; probe: boolean } | { available: false; until: number; reason: "throttled" | "circuit_open" };

export class BackendHealth {
  private coolingUntil = 0;
  private consecutiveFailures = 0;
  private openUntil = 0;
  private probing = false;
  private remainingTokens: number | undefined;
  private remainingRequests: number | undefined;
  private readingAt = 0;

  constructor(
    private readonly settings: CircuitSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a request may go to this backend now; `probe` when it would be the half-open circuit's one probe. */
  availability(): Availability {
    const now = this.now();
    if (this.coolingUntil > now) return { available: false, until: this.coolingUntil, reason: "throttled" };
    if (this.openUntil === 0) return { available: true, probe: false };
    if (this.openUntil > now) return { available: false, until: this.openUntil, reason: "circuit_open" };
    // Half-open: one probe at a time; while it runs, others wait a little and look again.
    if (this.probing) return { available: false, until: now + 1_000, reason: "circuit_open" };
    return { available: true, probe: true };
  }

  /** The router sends the half-open circuit's probe. */
  startProbe(): void {
    this.probing = true;
  }

  /** Whether the last reading says a request of this estimate (and one more request) cannot fit now. */
  cannotFit(estimate: TokenEstimate): boolean {
    if (this.now() - this.readingAt > READING_TTL_IN_MS) return false;
    if (this.remainingRequests !== undefined && this.remainingRequests < 1) return true;
    if (this.remainingTokens === undefined || this.remainingTokens >= estimate.atMost) return false;
    return this.remainingTokens < estimate.exact();
  }

  /** Azure answered (any status but 429 and 5xx): the backend is up. */
  answered(headers: Headers): void {
    this.consecutiveFailures = 0;
    this.openUntil = 0;
    this.probing = false;
    this.read(headers);
  }

  /** Azure throttled: cool down for as long as it says (a second when it says nothing). */
  throttled(retryAfterInMs: number | undefined, headers?: Headers): void {
    this.coolingUntil = Math.max(this.coolingUntil, this.now() + (retryAfterInMs ?? 1_000));
    // A throttled answer is an answer: the backend is up, and a half-open probe has its outcome.
    this.consecutiveFailures = 0;
    this.openUntil = 0;
    this.probing = false;
    if (headers) this.read(headers);
  }

  /** A 5xx, a connection failure or a timeout. */
  failed(): void {
    this.consecutiveFailures += 1;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || this.consecutiveFailures >= this.settings.circuitFailures) {
      this.openUntil = this.now() + this.settings.circuitBreakInMs;
    }
  }

  /** A probe that ended without an outcome (the caller left): let another request probe. */
  probeAbandoned(): void {
    this.probing = false;
  }

  private read(headers: Headers): void {
    const tokens = headerCount(headers, "x-ratelimit-remaining-tokens");
    const requests = headerCount(headers, "x-ratelimit-remaining-requests");
    if (tokens === undefined && requests === undefined) return;
    this.remainingTokens = tokens;
    this.remainingRequests = requests;
    this.readingAt = this.now();
  }
}

/** A non-negative count from a header; Azure has been seen sending -1 for "no limit known", read as nothing. */
function headerCount(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || raw === "") return undefined;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * What this process knows of one backend's health, for the router's choice: a few numbers per
 * backend, updated as answers arrive and read without waiting (the hot path never blocks on it).
 *
 * - Throttled: after a 429 the backend cools down for Azure's `retry-after-ms` (or `retry-after`).
 * - Failing: after `circuitFailures` consecutive 5xx answers, connection failures or timeouts the
 *   circuit opens for `circuitBreakInMs`; then it half-opens: one request may probe it (others
 *   still pass it over), and the probe's outcome closes it or reopens it for twice as long (up to
 *   MAX_CIRCUIT_BREAK_IN_MS). Short first breaks matter: a burst of 5xx is often over in a second,
 *   and while the circuit is open the other backends carry all the load (measured in
 *   `npm run bench -- routing`: a 30 s break turned a 0.8 s burst into half a minute on one backend).
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

/** Longest break of a circuit whose probes keep failing. */
export const MAX_CIRCUIT_BREAK_IN_MS = 60_000;

export type Availability =
  | { available: true; probe: boolean }
  // `probing`: a probe of the circuit is in flight.
  | { available: false; until: number; reason: "throttled" | "circuit_open"; probing?: boolean };

export class BackendHealth {
  private coolingUntil = 0;
  private consecutiveFailures = 0;
  private openUntil = 0;
  private probing = false;
  /** The next break's length: the setting, doubled after each failed probe. */
  private breakInMs: number;
  private remainingTokens: number | undefined;
  private remainingRequests: number | undefined;
  private readingAt = 0;

  constructor(
    private readonly settings: CircuitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.breakInMs = settings.circuitBreakInMs;
  }

  /** Whether a request may go to this backend now; `probe` when it would be the half-open circuit's one probe. */
  availability(): Availability {
    const now = this.now();
    if (this.coolingUntil > now) return { available: false, until: this.coolingUntil, reason: "throttled" };
    if (this.openUntil === 0) return { available: true, probe: false };
    if (this.openUntil > now) return { available: false, until: this.openUntil, reason: "circuit_open", probing: this.probing };
    // Half-open: one probe at a time; while it runs, others wait a little and look again.
    if (this.probing) return { available: false, until: now + 1_000, reason: "circuit_open", probing: true };
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
    this.closeCircuit();
    this.read(headers);
  }

  /**
   * Azure accepted a stream (200): its quota reading counts, but whether the backend is up is
   * known only at the stream's first event (succeeded / failed), since a backend can accept and
   * then drop every stream.
   */
  accepted(headers: Headers): void {
    this.read(headers);
  }

  /** A call succeeded (a stream reached its first event): the backend is up. */
  succeeded(): void {
    this.closeCircuit();
  }

  /** Azure throttled: cool down for as long as it says (a second when it says nothing). */
  throttled(retryAfterInMs: number | undefined, headers?: Headers): void {
    this.coolingUntil = Math.max(this.coolingUntil, this.now() + (retryAfterInMs ?? 1_000));
    // A throttled answer is an answer: the backend is up, and a half-open probe has its outcome.
    this.closeCircuit();
    if (headers) this.read(headers);
  }

  /** A 5xx, a connection failure or a timeout. */
  failed(): void {
    this.consecutiveFailures += 1;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe && this.openUntil !== 0) this.breakInMs = Math.min(MAX_CIRCUIT_BREAK_IN_MS, this.breakInMs * 2);
    if (wasProbe || this.consecutiveFailures >= this.settings.circuitFailures) this.openUntil = this.now() + this.breakInMs;
  }

  private closeCircuit(): void {
    this.consecutiveFailures = 0;
    this.openUntil = 0;
    this.probing = false;
    this.breakInMs = this.settings.circuitBreakInMs;
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

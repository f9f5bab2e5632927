/**
 * Injected faults: which ones hit a request, from the `x-simulator-fault` header (that request
 * only) and from a deployment's rules (picked by count, rate or times, deterministically from the
 * seed, and by schedule: storms and bursts at set times), folded into what the request handler
 * acts on: a status, a delay, a reset or a dropped connection, a stream that breaks, a content
 * filter. They let tests reproduce Azure's failures on purpose, repeatably.
 */
import type { FaultRule, Operation } from "./deployments.js";
import { faultProblems } from "./deployments.js";
import { invalidRequest } from "./errors.js";
import { Random } from "./random.js";

/** The faults that apply to one request, merged from the header and the deployment's rules. */
export interface ActiveFaults {
  /** HTTP status to answer instead of the real response (429, 500, 503, ...). */
  status?: { code: number; retryAfterMs?: number };
  delayMs: number;
  reset: boolean;
  dropAfterTokens?: number;
  /** `headers-only`: the status and headers are sent, then the connection is cut before any body byte. */
  headersOnly: boolean;
  /** `stream-error`: after this many content chunks a stream sends an error event and ends, without [DONE]. */
  streamErrorAfterTokens?: number;
  contentFilter: boolean;
  finishContentFilterAfterTokens?: number;
  /** Names of the faults applied, for the journal and counters. */
  names: string[];
}

export const FAULT_HEADER = "x-simulator-fault";

/**
 * Parses `x-simulator-fault`: comma-separated faults, each `kind[;key=value]...`, for example
 * `429;ms=200`, `503`, `delay;ms=1500`, `reset`, `drop;after=5`, `headers-only`,
 * `stream-error;after=2`, `content-filter`, `finish-content-filter;after=2`.
 * @throws SimulatorHttpError 400 naming the problem, so a typo never silently does nothing.
 */
export function parseFaultHeader(value: string): FaultRule[] {
  const rules: FaultRule[] = [];
  for (const part of value.split(",")) {
    const [head, ...params] = part.split(";").map((piece) => piece.trim());
    if (!head) continue;
    const kind = /^\d{3}$/.test(head) ? Number(head) : head;
    const rule: FaultRule = { kind: kind as FaultRule["kind"] };
    for (const param of params) {
      const [key, text] = param.split("=").map((piece) => piece.trim());
      const number = Number(text);
      if (!key || text === undefined || !Number.isFinite(number)) throw headerError(value, `bad parameter '${param}'`);
      if (key === "ms" || key === "retry-after-ms") rule.ms = number;
      else if (key === "after") rule.afterTokens = number;
      else throw headerError(value, `unknown parameter '${key}' (known: ms, after)`);
    }
    const problems = faultProblems([rule]);
    if (problems.length) throw headerError(value, problems.join("; "));
    rules.push(rule);
  }
  return rules;
}

function headerError(value: string, why: string) {
  return invalidRequest(`${FAULT_HEADER}: ${why} in '${value}'. See tools/simulator/README.md for the syntax.`, FAULT_HEADER);
}

/**
 * Decides, deterministically from the seed, which of a deployment's fault rules hit each request.
 * Schedules count from when the selector was made or last reset, i.e. when the rules were set.
 */
export class FaultSelector {
  private random: Random;
  private matched: number[] = [];
  private used: number[] = [];
  private epoch: number;

  constructor(
    private readonly seed: string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.random = new Random(seed);
    this.epoch = now();
  }

  /** Rules replaced at runtime restart their counts and their schedules. */
  reset(): void {
    this.random = new Random(this.seed);
    this.matched = [];
    this.used = [];
    this.epoch = this.now();
  }

  /**
   * The rules that hit this request. A request outside a rule's schedule does not match it (its
   * `every`/`times`/`rate` count only requests inside). A scheduled 429 or 503 without `ms` asks
   * for a retry when its active stretch ends, as a throttled resource names when it frees up.
   */
  select(rules: readonly FaultRule[], operation: Operation): FaultRule[] {
    const elapsed = this.now() - this.epoch;
    const hits: FaultRule[] = [];
    rules.forEach((rule, i) => {
      if (rule.operations && !rule.operations.includes(operation)) return;
      const window = scheduleWindow(rule, elapsed);
      if (!window.active) return;
      const matchCount = (this.matched[i] = (this.matched[i] ?? 0) + 1);
      let hit = true;
      if (rule.every !== undefined && rule.every > 0) hit = matchCount % rule.every === 0;
      if (hit && rule.rate !== undefined) hit = this.random.next() < rule.rate;
      if (hit && rule.times !== undefined) {
        hit = (this.used[i] ?? 0) < rule.times;
      }
      if (hit) {
        this.used[i] = (this.used[i] ?? 0) + 1;
        const retryWhenOver = (rule.kind === 429 || rule.kind === 503) && rule.ms === undefined && window.endsInMs !== undefined;
        hits.push(retryWhenOver ? { ...rule, ms: Math.max(1, Math.ceil(window.endsInMs!)) } : rule);
      }
    });
    return hits;
  }
}

/**
 * Whether a rule's schedule is on `elapsed` ms after the rules were set, and for how much longer
 * (undefined: for good). A rule without schedule fields is always on.
 */
export function scheduleWindow(rule: FaultRule, elapsed: number): { active: boolean; endsInMs?: number } {
  const from = rule.fromMs ?? 0;
  if (elapsed < from) return { active: false };
  if (rule.untilMs !== undefined && elapsed >= rule.untilMs) return { active: false };
  let endsInMs = rule.untilMs !== undefined ? rule.untilMs - elapsed : undefined;
  if (rule.periodMs !== undefined && rule.activeMs !== undefined) {
    const phase = (elapsed - from) % rule.periodMs;
    if (phase >= rule.activeMs) return { active: false };
    endsInMs = Math.min(endsInMs ?? Infinity, rule.activeMs - phase);
  }
  return endsInMs === undefined ? { active: true } : { active: true, endsInMs };
}

/** Folds the rules that hit into what the request handler acts on. */
export function activeFaults(rules: readonly FaultRule[]): ActiveFaults {
  const active: ActiveFaults = { delayMs: 0, reset: false, headersOnly: false, contentFilter: false, names: [] };
  for (const rule of rules) {
    if (typeof rule.kind === "number") {
      active.status ??= { code: rule.kind, ...(rule.ms !== undefined ? { retryAfterMs: rule.ms } : {}) };
      active.names.push(String(rule.kind));
      continue;
    }
    active.names.push(rule.kind);
    switch (rule.kind) {
      case "delay":
        active.delayMs += rule.ms ?? 1000;
        break;
      case "reset":
        active.reset = true;
        break;
      case "drop":
        active.dropAfterTokens = rule.afterTokens ?? 3;
        break;
      case "headers-only":
        active.headersOnly = true;
        break;
      case "stream-error":
        active.streamErrorAfterTokens = rule.afterTokens ?? 0;
        break;
      case "content-filter":
        active.contentFilter = true;
        break;
      case "finish-content-filter":
        active.finishContentFilterAfterTokens = rule.afterTokens ?? 3;
        break;
    }
  }
  return active;
}

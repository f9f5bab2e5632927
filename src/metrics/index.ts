/**
 * The app's metrics: what the rest of the app calls with plain facts (a call's labels, outcome,
 * latency and usage; a pipeline item's outcome), so no handler grows metric code. Each fact goes
 * to two places:
 *
 * - the in-process totals by caller and model (usage-totals.ts), always, for GET /api/usage and
 *   the console summary;
 * - the OpenTelemetry instruments (instruments.ts), when an exporter is on (export.ts, loaded on
 *   first use so the SDK stays out of the cold start). Facts recorded while it loads are kept
 *   (up to PENDING_LIMIT) and replayed once it is there.
 *
 * Every recording is synchronous and cheap: a few map updates, no I/O.
 */
import type { Meter } from "@opentelemetry/api";
import type { FailureKind } from "../errors.js";
import type { Capability } from "../routing/table.js";
import { CallerNames } from "./caller-names.js";
import { createInstruments, type Instruments } from "./instruments.js";
import { costOf, EMPTY_PRICE_TABLE, pricesFor, type CallUsage, type PriceTable } from "./prices.js";
import { UsageTotals, type UsageSnapshot } from "./usage-totals.js";

export type { CallUsage, PriceTable } from "./prices.js";
export type { UsageSnapshot, UsageTotal } from "./usage-totals.js";

/** Who made a call and where it went: the dimensions of the aoai.* metrics. */
export interface CallLabels {
  capability: Capability;
  /** The model name callers send (the routing table's). */
  model: string;
  deployment: string;
  /** The routing table's backend name (never its endpoint or key). */
  backend: string;
  /** src/http/caller.ts's name for an HTTP caller; `pipeline:<name>` for a queue or blob pipeline. */
  caller: string;
}

/** `ok`, a failure's kind, or a caller refused for its token limit. */
export type CallOutcome = "ok" | FailureKind | "caller_limited";

export interface CallFacts {
  outcome: CallOutcome;
  durationInMs: number;
  /** Streams only: time from sending to the first event. */
  timeToFirstTokenInMs?: number | undefined;
  usage?: CallUsage | undefined;
}

export type Pipeline = "embeddings" | "transcription" | "speech" | "images";
export type PipelineOutcome = "processed" | "rejected" | "retried" | "poisoned" | "given_up";

/** Measurements kept while the exporter loads; past this many the oldest are dropped (a stuck load must not grow memory). */
const PENDING_LIMIT = 10_000;

type Record = (instruments: Instruments) => void;

let prices: PriceTable = EMPTY_PRICE_TABLE;
const totals = new UsageTotals();
const callerNames = new CallerNames();
let instruments: Instruments | undefined;
let pending: Record[] | undefined;

function emit(record: Record): void {
  if (instruments) record(instruments);
  else if (pending) {
    if (pending.length >= PENDING_LIMIT) pending.shift();
    pending.push(record);
  }
}

/** Sets the price table costs are estimated from (AI_PRICES). */
export function usePrices(table: PriceTable): void {
  prices = table;
}

/** An exporter is on its way (export.ts): keep measurements until useMeter. */
export function awaitMeter(): void {
  if (!instruments) pending ??= [];
}

/** The exporter could not start: stop keeping measurements for it. */
export function abandonMeter(): void {
  pending = undefined;
}

/** Records into this meter's instruments from now on (the exporter's, or a test's in-memory reader's); replays what was kept. */
export function useMeter(meter: Meter): void {
  instruments = createInstruments(meter, prices.currency);
  const kept = pending ?? [];
  pending = undefined;
  for (const record of kept) record(instruments);
}

/** Stops recording into OpenTelemetry and clears the totals (tests). */
export function resetMetrics(): void {
  instruments = undefined;
  pending = undefined;
  totals.reset();
  callerNames.clear();
}

/** One Azure OpenAI call, ended whichever way: requests, tokens, cost, latency, audio minutes. */
export function recordCall(labels: CallLabels, facts: CallFacts): void {
  const usage = facts.usage ?? {};
  const ok = facts.outcome === "ok";
  const cost = ok || hasUsage(usage) ? costOf(pricesFor(prices, labels.model, labels.deployment), usage) : undefined;
  const { capability, model, deployment, backend } = labels;
  const caller = callerNames.bounded(labels.caller);
  totals.addCall(caller, model, ok, usage, cost);
  const dims = { capability, model, deployment, backend, caller };
  emit((i) => {
    i.requests.add(1, { ...dims, outcome: facts.outcome });
    tokens(i, dims, "prompt", usage.promptTokens);
    tokens(i, dims, "completion", usage.completionTokens);
    tokens(i, dims, "cached", usage.cachedTokens);
    tokens(i, dims, "reasoning", usage.reasoningTokens);
    if (cost !== undefined) i.cost.add(cost, dims);
    if (usage.audioSeconds) i.audioMinutes.add(usage.audioSeconds / 60, { model, deployment, backend, caller });
    i.duration.record(facts.durationInMs, { capability, model, backend, outcome: facts.outcome });
    if (facts.timeToFirstTokenInMs !== undefined) i.timeToFirstToken.record(facts.timeToFirstTokenInMs, { capability, model, backend });
  });
}

function tokens(i: Instruments, dims: object, type: string, count: number | undefined): void {
  if (count) i.tokens.add(count, { ...dims, token_type: type });
}

function hasUsage(usage: CallUsage): boolean {
  return Object.values(usage).some((value) => typeof value === "number" && value > 0);
}

/** A 429 a caller met: from Azure (`backend` the one that answered) or every backend cooling down (`backend` "all"). */
export function recordThrottled(labels: Pick<CallLabels, "capability" | "model" | "backend" | "caller">): void {
  const caller = callerNames.bounded(labels.caller);
  totals.addThrottled(caller);
  emit((i) => i.throttled.add(1, { capability: labels.capability, model: labels.model, backend: labels.backend, caller }));
}

/** Time a pipeline spent waiting out throttling before trying again. */
export function recordThrottleWait(labels: Pick<CallLabels, "capability" | "model" | "backend">, waitInMs: number): void {
  emit((i) => i.throttleWait.record(waitInMs, { capability: labels.capability, model: labels.model, backend: labels.backend }));
}

/** A call moved on from a backend: `reason` is the failure's kind (throttled, transient, configuration). */
export function recordFailover(labels: { capability: Capability; model: string; fromBackend: string; reason: string }): void {
  emit((i) =>
    i.failovers.add(1, { capability: labels.capability, model: labels.model, from_backend: labels.fromBackend, reason: labels.reason }),
  );
}

/** The remaining-tokens reading a deployment's answer carried. */
export function recordQuotaRemaining(labels: { deployment: string; backend: string }, remainingTokens: number): void {
  emit((i) => i.quotaRemainingTokens.record(remainingTokens, { deployment: labels.deployment, backend: labels.backend }));
}

/**
 * A request refused for its caller's token limit (CALLER_TOKEN_LIMITS), before any upstream call:
 * counts `aoai.caller_limit_rejections`, and `aoai.requests` with outcome `caller_limited`
 * (deployment and backend `none`: no backend was chosen).
 */
export function recordCallerLimitRejection(labels: {
  caller: string;
  window: "minute" | "day";
  capability: Capability;
  model: string;
}): void {
  const { window, capability, model } = labels;
  const caller = callerNames.bounded(labels.caller);
  totals.addCall(caller, model, false, {}, undefined);
  emit((i) => {
    i.callerLimitRejections.add(1, { caller, window });
    i.requests.add(1, { capability, model, deployment: "none", backend: "none", caller, outcome: "caller_limited" });
  });
}

/** A queue message or blob the app finished with, one way or another. */
export function recordPipelineItem(pipeline: Pipeline, outcome: PipelineOutcome): void {
  totals.addPipelineItem(pipeline, outcome);
  emit((i) => i.pipelineItems.add(1, { pipeline, outcome }));
}

/** How old a message or blob was when the app saw it (from its insertion time). */
export function recordQueueAge(pipeline: Pipeline, ageInMs: number): void {
  if (!Number.isFinite(ageInMs)) return;
  emit((i) => i.queueAge.record(Math.max(0, ageInMs), { pipeline }));
}

/** Totals since the process started, by caller and model (GET /api/usage). */
export function usageSnapshot(): UsageSnapshot {
  return totals.snapshot(prices.currency);
}

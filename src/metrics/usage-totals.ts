/**
 * Totals since the process started, by caller and model: what GET /api/usage answers and the
 * console summary prints. A plain map kept beside the OpenTelemetry instruments rather than read
 * back from a MetricReader: it must work with every exporter off (the default locally), and a
 * reader's collect() would load the SDK into every cold start.
 *
 * Per process: each instance counts its own calls (the metrics in Application Insights are the
 * sum over instances).
 */
import type { CallUsage } from "./prices.js";

export interface UsageTotal {
  caller: string;
  model: string;
  requests: number;
  /** Requests that failed (any outcome but ok), among `requests`. */
  failed: number;
  tokens: { prompt: number; completion: number; cached: number; reasoning: number };
  /** In the price table's currency; calls of models without prices add nothing. */
  cost: number;
  /** Requests whose model has no price in AI_PRICES (their cost is unknown, not 0). */
  unpriced: number;
  audioMinutes: number;
  images: number;
  characters: number;
}

export interface UsageSnapshot {
  /** When the counting started (the process's start, or the last reset in tests). */
  since: string;
  currency: string;
  totals: UsageTotal[];
  /** Queue and blob pipeline items by pipeline and outcome. */
  pipelines: { pipeline: string; outcome: string; count: number }[];
  /** 429s seen (from Azure, or every backend cooling down), by caller. */
  throttled: { caller: string; count: number }[];
}

export class UsageTotals {
  private since = new Date();
  private readonly byCallerModel = new Map<string, UsageTotal>();
  private readonly pipelineItems = new Map<string, number>();
  private readonly throttledByCaller = new Map<string, number>();

  /** Counts one call: its usage, and its cost (undefined: not priced). */
  addCall(caller: string, model: string, ok: boolean, usage: CallUsage, cost: number | undefined): void {
    const key = `${caller}\u0000${model}`;
    let total = this.byCallerModel.get(key);
    if (!total) {
      total = {
        caller,
        model,
        requests: 0,
        failed: 0,
        tokens: { prompt: 0, completion: 0, cached: 0, reasoning: 0 },
        cost: 0,
        unpriced: 0,
        audioMinutes: 0,
        images: 0,
        characters: 0,
      };
      this.byCallerModel.set(key, total);
    }
    total.requests += 1;
    if (!ok) total.failed += 1;
    total.tokens.prompt += usage.promptTokens ?? 0;
    total.tokens.completion += usage.completionTokens ?? 0;
    total.tokens.cached += usage.cachedTokens ?? 0;
    total.tokens.reasoning += usage.reasoningTokens ?? 0;
    total.audioMinutes += (usage.audioSeconds ?? 0) / 60;
    total.images += usage.images ?? 0;
    total.characters += usage.characters ?? 0;
    if (cost === undefined) {
      if (ok) total.unpriced += 1;
    } else total.cost += cost;
  }

  addPipelineItem(pipeline: string, outcome: string): void {
    const key = `${pipeline}\u0000${outcome}`;
    this.pipelineItems.set(key, (this.pipelineItems.get(key) ?? 0) + 1);
  }

  addThrottled(caller: string): void {
    this.throttledByCaller.set(caller, (this.throttledByCaller.get(caller) ?? 0) + 1);
  }

  snapshot(currency: string): UsageSnapshot {
    return {
      since: this.since.toISOString(),
      currency,
      totals: [...this.byCallerModel.values()]
        .map((total) => ({ ...total, tokens: { ...total.tokens } }))
        .sort((a, b) => a.caller.localeCompare(b.caller) || a.model.localeCompare(b.model)),
      pipelines: [...this.pipelineItems].map(([key, count]) => {
        const [pipeline = "", outcome = ""] = key.split("\u0000");
        return { pipeline, outcome, count };
      }),
      throttled: [...this.throttledByCaller].map(([caller, count]) => ({ caller, count })),
    };
  }

  /** Starts counting afresh (tests). */
  reset(): void {
    this.since = new Date();
    this.byCallerModel.clear();
    this.pipelineItems.clear();
    this.throttledByCaller.clear();
  }
}

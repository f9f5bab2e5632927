/**
 * The instruments against issue #25's shared contract (test/infra/lib/metrics-contract.ts), which
 * the workbook and alerts in infra/ are checked against: every metric the app sends has the
 * contract's name, kind and exactly its dimensions, and the contract lists no metric the app
 * does not send. A rename on either side fails here rather than leaving an empty tile.
 */
import { DataPointType, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { afterAll, describe, expect, it } from "vitest";
import {
  recordCall,
  recordCallerLimitRejection,
  recordFailover,
  recordPipelineItem,
  recordQueueAge,
  recordQuotaRemaining,
  recordThrottled,
  recordThrottleWait,
  resetMetrics,
  useMeter,
  usePrices,
} from "../../src/metrics/index.js";
import { parsePriceTable } from "../../src/metrics/prices.js";
import { METRICS } from "../infra/lib/metrics-contract.js";

class InMemoryReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const KINDS: Record<string, DataPointType> = {
  counter: DataPointType.SUM,
  histogram: DataPointType.HISTOGRAM,
  gauge: DataPointType.GAUGE,
};

afterAll(() => resetMetrics());

describe("the metrics the app sends", () => {
  it("are the contract's: names, kinds and dimensions", async () => {
    resetMetrics();
    usePrices(parsePriceTable('{"models": {"gpt-4o": {"inputPer1M": 1, "outputPer1M": 2}, "whisper": {"perAudioMinute": 0.006}}}').table);
    const reader = new InMemoryReader();
    useMeter(new MeterProvider({ readers: [reader] }).getMeter("test"));
    const labels = { capability: "chat", model: "gpt-4o", deployment: "prod-4o", backend: "eu", caller: "team-a" } as const;
    recordCall(labels, {
      outcome: "ok",
      durationInMs: 900,
      timeToFirstTokenInMs: 200,
      usage: { promptTokens: 100, cachedTokens: 40, completionTokens: 50, reasoningTokens: 10 },
    });
    recordCall(
      { ...labels, capability: "transcription", model: "whisper", deployment: "whisper" },
      { outcome: "ok", durationInMs: 3000, usage: { audioSeconds: 90 } },
    );
    recordThrottled(labels);
    recordThrottleWait(labels, 1500);
    recordFailover({ capability: "chat", model: "gpt-4o", fromBackend: "eu", reason: "throttled" });
    recordQuotaRemaining({ deployment: "prod-4o", backend: "eu" }, 12_000);
    recordCallerLimitRejection({ caller: "team-a", window: "minute", capability: "chat", model: "gpt-4o" });
    recordPipelineItem("embeddings", "processed");
    recordQueueAge("embeddings", 2500);

    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
    expect(metrics.map((m) => m.descriptor.name).sort()).toEqual(Object.keys(METRICS).sort());
    for (const metric of metrics) {
      const contract = METRICS[metric.descriptor.name]!;
      expect(metric.dataPointType, metric.descriptor.name).toBe(KINDS[contract.kind]);
      for (const point of metric.dataPoints) {
        expect(Object.keys(point.attributes).sort(), metric.descriptor.name).toEqual([...contract.dimensions].sort());
        if (contract.outcomes && typeof point.attributes.outcome === "string") {
          expect(contract.outcomes, metric.descriptor.name).toContain(point.attributes.outcome);
        }
      }
    }
  });
});

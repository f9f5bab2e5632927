/**
 * The exporter the settings choose, loaded as the app loads it (src/metrics/export.ts), sending to
 * a loopback OTLP/HTTP receiver: what leaves the process is OTLP JSON with the metric names and
 * dimensions the docs promise.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { awaitMeter, recordCall, recordPipelineItem, resetMetrics, usePrices } from "../../src/metrics/index.js";
import { flushMetrics, startExport } from "../../src/metrics/export.js";
import { startRecordingServer } from "../support/recording-server.js";

let receiver: Awaited<ReturnType<typeof startRecordingServer>>;

beforeAll(async () => {
  receiver = await startRecordingServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end("{}");
  });
});
afterAll(async () => {
  resetMetrics();
  await receiver?.stop();
});

describe("METRICS_EXPORT=otlp", () => {
  it("sends the app's metrics as OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_ENDPOINT's /v1/metrics", async () => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com",
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
      METRICS_EXPORT: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
      AI_PRICES: '{"models": {"gpt-4o": {"inputPer1M": 2.5, "outputPer1M": 10}}}',
    });
    resetMetrics();
    usePrices(config.metrics.prices);
    // As at app start: measurements made while the exporter loads are kept, then sent with the rest.
    awaitMeter();
    recordPipelineItem("speech", "poisoned");
    await startExport(config);
    const labels = { capability: "chat", model: "gpt-4o", deployment: "prod-4o", backend: "eu", caller: "team-x" } as const;
    recordCall(labels, {
      outcome: "ok",
      durationInMs: 120,
      timeToFirstTokenInMs: 40,
      usage: { promptTokens: 1000, completionTokens: 100 },
    });
    await flushMetrics();

    const sent = receiver.requests.filter((request) => request.url === "/v1/metrics");
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0]!.method).toBe("POST");
    expect(sent[0]!.headers["content-type"]).toMatch(/^application\/json/);
    const body = JSON.parse(sent.at(-1)!.body) as {
      resourceMetrics: {
        scopeMetrics: {
          metrics: {
            name: string;
            sum?: {
              dataPoints: { asDouble?: number; asInt?: number | string; attributes: { key: string; value: { stringValue?: string } }[] }[];
            };
          }[];
        }[];
      }[];
    };
    const metrics = body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    expect(metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining(["aoai.requests", "aoai.tokens", "aoai.cost", "aoai.duration", "aoai.time_to_first_token", "pipeline.items"]),
    );
    const cost = metrics.find((m) => m.name === "aoai.cost")!.sum!.dataPoints[0]!;
    expect(cost.asDouble).toBeCloseTo((1000 * 2.5 + 100 * 10) / 1_000_000, 12);
    const attributes = Object.fromEntries(cost.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(attributes).toEqual({ capability: "chat", model: "gpt-4o", deployment: "prod-4o", backend: "eu", caller: "team-x" });
    const items = metrics.find((m) => m.name === "pipeline.items")!.sum!.dataPoints[0]!;
    expect(Number(items.asInt ?? items.asDouble)).toBe(1);
  });
});

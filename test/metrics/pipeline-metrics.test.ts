/**
 * The pipelines' metrics: embeddings queue messages processed with Azurite and the simulator,
 * without the host, read back with an in-memory MetricReader. What each outcome is counted as
 * follows src/queue-jobs/run-job.ts's decision (processed, rejected, handed back = retried,
 * thrown = retried, or poisoned on the host's last delivery).
 */
import { QueueServiceClient } from "@azure/storage-queue";
import { BlobServiceClient } from "@azure/storage-blob";
import { MeterProvider, MetricReader, type DataPoint } from "@opentelemetry/sdk-metrics";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { EmbeddingsBatcher } from "../../src/embeddings/batcher.js";
import { processEmbeddingsMessage, type ProcessMessageDependencies, type QueueDelivery } from "../../src/embeddings/process-message.js";
import { EmbeddingsStore } from "../../src/embeddings/result-store.js";
import { resetMetrics, usageSnapshot, useMeter } from "../../src/metrics/index.js";
import { HOST_MAX_DEQUEUE_COUNT } from "../../src/queue-jobs/run-job.js";
import { createRouter } from "../../src/routing/index.js";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { NO_LATENCY, start, type Simulator } from "../../tools/simulator/index.js";

const DEPLOYMENT = "text-embedding-3-small";
const quiet = { info() {}, warn() {}, error() {} };

class InMemoryReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

let azurite: Azurite;
let sim: Simulator;
let deps: ProcessMessageDependencies;
let reader: InMemoryReader;
/** The one backend's name in the table the one-deployment settings make. */
let backendName: string;

beforeAll(async () => {
  [azurite, sim] = await Promise.all([startAzurite(), start({ latency: NO_LATENCY })]);
  const config = loadConfig({
    AZURE_OPENAI_ENDPOINT: sim.url,
    AZURE_OPENAI_API_KEY: sim.apiKey,
    AzureWebJobsStorage: azurite.connectionString,
  });
  const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient("embeddings");
  await queue.createIfNotExists();
  const router = createRouter(config.openai);
  backendName = router.route("embeddings", DEPLOYMENT).backends[0]!.name;
  deps = {
    embed: {
      batcher: new EmbeddingsBatcher({
        router,
        maxInputsPerRequest: 2048,
        maxTokensPerRequest: 300_000,
        maxWaitInMs: 5,
        retry: { transientRetries: 0, transientBackoffInMs: 5 },
      }),
      router,
      defaultModel: DEPLOYMENT,
      limits: { chunkTokens: 8191, overlapTokens: 0, split: true },
      throttleBudgetInMs: 300,
    },
    store: new EmbeddingsStore(BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient("embeddings")),
    queue,
    logger: quiet,
  };
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([sim?.stop(), azurite?.stop()]);
});
beforeEach(async () => {
  await sim.control.reset();
  resetMetrics();
  reader = new InMemoryReader();
  useMeter(new MeterProvider({ readers: [reader] }).getMeter("test"));
});

async function points(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((p: DataPoint<unknown>) => ({ attributes: { ...p.attributes }, value: p.value }));
}

const delivery = (body: unknown, options: { dequeueCount?: number; ageInMs?: number } = {}): QueueDelivery => ({
  body,
  messageId: `m-${Math.random().toString(36).slice(2)}`,
  dequeueCount: options.dequeueCount ?? 1,
  insertionTime: new Date(Date.now() - (options.ageInMs ?? 0)).toISOString(),
});

describe("pipeline metrics (embeddings queue)", () => {
  it("counts a processed message, its age when the app saw it, and its call as the pipeline's", async () => {
    await processEmbeddingsMessage(delivery({ id: "fresh", input: ["one", "two"] }, { ageInMs: 5_000 }), deps);
    expect(await points("pipeline.items")).toEqual([{ attributes: { pipeline: "embeddings", outcome: "processed" }, value: 1 }]);
    const [age] = await points("pipeline.queue_age");
    expect(age?.attributes).toEqual({ pipeline: "embeddings" });
    expect((age?.value as { min: number }).min).toBeGreaterThanOrEqual(5_000);
    expect((age?.value as { max: number }).max).toBeLessThan(60_000);
    const [request] = await points("aoai.requests");
    expect(request?.attributes).toEqual({
      capability: "embeddings",
      model: DEPLOYMENT,
      deployment: DEPLOYMENT,
      backend: backendName,
      caller: "pipeline:embeddings",
      outcome: "ok",
    });
    expect(usageSnapshot().pipelines).toEqual([{ pipeline: "embeddings", outcome: "processed", count: 1 }]);
  });

  it("counts a bad message as rejected, throttling past the budget as retried (with its wait), and a failure on the last delivery as poisoned", async () => {
    await processEmbeddingsMessage(delivery({ id: "bad", input: [] }), deps);
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 500 }]);
    await expect(processEmbeddingsMessage(delivery({ id: "failing", input: "x" }), deps)).rejects.toMatchObject({ kind: "transient" });
    await expect(
      processEmbeddingsMessage(delivery({ id: "failing", input: "x" }, { dequeueCount: HOST_MAX_DEQUEUE_COUNT }), deps),
    ).rejects.toMatchObject({
      kind: "transient",
    });
    // Last: the 429's Retry-After pauses the deployment for what follows.
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 2000 }]);
    await processEmbeddingsMessage(delivery({ id: "throttled", input: "wait for it" }), deps);
    const items = Object.fromEntries((await points("pipeline.items")).map((p) => [p.attributes.outcome, p.value]));
    expect(items).toEqual({ rejected: 1, retried: 2, poisoned: 1 });
    const [wait] = await points("aoai.throttle_wait");
    expect(wait?.attributes).toEqual({ capability: "embeddings", model: DEPLOYMENT, backend: backendName });
    expect((wait?.value as { min: number }).min).toBeGreaterThanOrEqual(1_000);
    expect((await points("aoai.throttled"))[0]?.attributes).toEqual({
      capability: "embeddings",
      model: DEPLOYMENT,
      backend: backendName,
      caller: "pipeline:embeddings",
    });
  });

  it("knows the delivery the host poisons after: host.json's maxDequeueCount", () => {
    const hostJson = JSON.parse(readFileSync(`${REPO_ROOT}/host.json`, "utf8")) as { extensions: { queues: { maxDequeueCount: number } } };
    expect(HOST_MAX_DEQUEUE_COUNT).toBe(hostJson.extensions.queues.maxDequeueCount);
  });
});

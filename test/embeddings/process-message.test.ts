/**
 * processEmbeddingsMessage against Azurite and the simulator, without the host: redelivery
 * rewrites identical bytes, throttling past the budget hands the work back as a fresh message
 * (never spending a delivery), a retrying record is cleared by a later success.
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { QueueServiceClient, type QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { NO_LATENCY, start, type Simulator } from "../../tools/simulator/index.js";
import { loadConfig } from "../../src/config.js";
import { EmbeddingsBatcher } from "../../src/embeddings/batcher.js";
import { processEmbeddingsMessage, type ProcessMessageDependencies, type QueueDelivery } from "../../src/embeddings/process-message.js";
import { EmbeddingsStore } from "../../src/embeddings/result-store.js";
import { createOpenAIClient } from "../../src/openai/client.js";
import type { Logger } from "../../src/logging.js";
import { AppError } from "../../src/errors.js";

const DEPLOYMENT = "text-embedding-3-small";
const quiet: Logger = { info() {}, warn() {}, error() {} };

let azurite: Azurite;
let sim: Simulator;
let container: ContainerClient;
let queue: QueueClient;
let deps: ProcessMessageDependencies;

beforeAll(async () => {
  [azurite, sim] = await Promise.all([startAzurite(), start({ latency: NO_LATENCY })]);
  const config = loadConfig({ AZURE_OPENAI_ENDPOINT: sim.url, AZURE_OPENAI_API_KEY: sim.apiKey, AzureWebJobsStorage: azurite.connectionString });
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient("embeddings");
  queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient("embeddings");
  await queue.createIfNotExists();
  deps = {
    embed: {
      batcher: new EmbeddingsBatcher({ client: await createOpenAIClient(config.openai), maxInputsPerRequest: 2048, maxTokensPerRequest: 300_000, maxWaitInMs: 5, transientRetries: 0 }),
      deployments: [DEPLOYMENT],
      limits: { chunkTokens: 8191, overlapTokens: 0, split: true },
      throttleBudgetInMs: 300,
    },
    store: new EmbeddingsStore(container),
    queue,
    logger: quiet,
  };
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([sim?.stop(), azurite?.stop()]);
});

beforeEach(async () => {
  await sim.control.reset();
  await queue.clearMessages();
});

const delivery = (body: unknown, dequeueCount = 1): QueueDelivery => ({
  body,
  messageId: "0f6c1c8e-58a4-4b0f-9d1c-2a9f3c1b7e10",
  dequeueCount,
  insertionTime: "2025-01-31T10:15:00.000Z",
});

async function download(name: string): Promise<Buffer> {
  return container.getBlobClient(name).downloadToBuffer();
}

describe("processEmbeddingsMessage", () => {
  it("rewrites a redelivered message's output with identical bytes", async () => {
    const body = { id: "same", input: ["one text", "another text"], metadata: { k: "v" } };
    expect(await processEmbeddingsMessage(delivery(body), deps)).toMatchObject({ status: "embedded", id: "same", items: 2 });
    const first = await download("same.json");
    const firstEtag = (await container.getBlobClient("same.json").getProperties()).etag;
    await processEmbeddingsMessage(delivery(body, 2), deps);
    const second = await download("same.json");
    expect((await container.getBlobClient("same.json").getProperties()).etag).not.toBe(firstEtag); // really rewritten
    expect(second.equals(first)).toBe(true);
    expect(JSON.parse(first.toString()).createdAt).toBe("2025-01-31T10:15:00.000Z");
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: "same" })) names.push(blob.name);
    expect(names).toEqual(["same.json"]);
  });

  it("hands throttled work back as a fresh message with the same id and enqueue time, visible after Azure's delay, without failing", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 2000 }]);
    const outcome = await processEmbeddingsMessage(delivery({ input: "throttled text", dimensions: 64, metadata: { a: 1 } }, 5), deps);
    expect(outcome).toMatchObject({ status: "requeued", id: "0f6c1c8e-58a4-4b0f-9d1c-2a9f3c1b7e10" });
    expect((outcome as { delayInMs: number }).delayInMs).toBeGreaterThanOrEqual(1000);
    // Not visible yet (it waits for the retry delay) ...
    expect((await queue.receiveMessages()).receivedMessageItems).toHaveLength(0);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(1);
    // ... and, once visible, it is the same job with its id fixed, base64 as the host expects.
    await sim.control.setFaults(DEPLOYMENT, []);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const [copy] = (await queue.receiveMessages()).receivedMessageItems;
    const copyBody = JSON.parse(Buffer.from(copy!.messageText, "base64").toString("utf8")) as unknown;
    expect(copyBody).toEqual({
      id: "0f6c1c8e-58a4-4b0f-9d1c-2a9f3c1b7e10",
      input: "throttled text",
      dimensions: 64,
      metadata: { a: 1 },
      enqueuedAt: "2025-01-31T10:15:00.000Z",
    });
    expect(copy!.dequeueCount).toBe(1);
    // Meanwhile a record says why the output is late ...
    const record = JSON.parse((await download("0f6c1c8e-58a4-4b0f-9d1c-2a9f3c1b7e10.error.json")).toString());
    expect(record).toMatchObject({ status: "retrying", kind: "throttled", code: "throttle_budget_exhausted", dequeueCount: 5 });
    expect(record.reason).toMatch(/visible on the queue in 2 s/);
    // ... and the copy's output is what the original's would have been: same time, record gone.
    const copyDelivery = { body: copyBody, messageId: copy!.messageId, dequeueCount: 1, insertionTime: new Date().toISOString() };
    expect(await processEmbeddingsMessage(copyDelivery, deps)).toMatchObject({ status: "embedded" });
    expect(JSON.parse((await download("0f6c1c8e-58a4-4b0f-9d1c-2a9f3c1b7e10.json")).toString()).createdAt).toBe("2025-01-31T10:15:00.000Z");
    expect(await container.getBlobClient("0f6c1c8e-58a4-4b0f-9d1c-2a9f3c1b7e10.error.json").exists()).toBe(false);
  });

  it("writes the throttled record before the copy is on the queue, so the copy's success always removes it", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 1000 }]);
    const id = "record-first";
    const recordAtSend: boolean[] = [];
    // The real queue, with a look at storage at the moment the copy is sent.
    const watchedQueue = new Proxy(queue, {
      get(target, property) {
        if (property !== "sendMessage") return Reflect.get(target, property) as unknown;
        return async (...args: Parameters<QueueClient["sendMessage"]>) => {
          recordAtSend.push(await container.getBlobClient(`${id}.error.json`).exists());
          return target.sendMessage(...args);
        };
      },
    });
    expect(await processEmbeddingsMessage(delivery({ id, input: "late text" }), { ...deps, queue: watchedQueue })).toMatchObject({ status: "requeued", id });
    expect(recordAtSend).toEqual([true]);
    await sim.control.setFaults(DEPLOYMENT, []);
    // The shared batcher holds the deployment until Azure's delay is over: let it pass.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
  });

  it("hands back a message near the queue's 64 KiB limit without the enqueue time rather than not at all", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 1000 }]);
    // 49,152 bytes of JSON is exactly 64 KiB in base64: this copy fits only without enqueuedAt.
    const id = "near-limit";
    const input = "word ".repeat(9_820);
    expect(JSON.stringify({ id, input }).length).toBeLessThanOrEqual(49_152);
    expect(JSON.stringify({ id, input, enqueuedAt: "2025-01-31T10:15:00.000Z" }).length).toBeGreaterThan(49_152);
    expect(await processEmbeddingsMessage(delivery({ id, input }), deps)).toMatchObject({ status: "requeued", id });
    expect((await queue.getProperties()).approximateMessagesCount).toBe(1);
    await sim.control.setFaults(DEPLOYMENT, []);
    // The shared batcher holds the deployment until Azure's delay is over: let it pass.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
  });

  it("throws on a transient failure after writing a retrying record, which a later success removes", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 500, times: 1 }]);
    const error = await processEmbeddingsMessage(delivery({ id: "flaky", input: "x" }), deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).kind).toBe("transient");
    const record = JSON.parse((await download("flaky.error.json")).toString());
    expect(record).toMatchObject({ id: "flaky", status: "retrying", kind: "transient", dequeueCount: 1 });
    expect(record.reason).toMatch(/500/);

    await processEmbeddingsMessage(delivery({ id: "flaky", input: "x" }, 2), deps);
    expect(await container.getBlobClient("flaky.json").exists()).toBe(true);
    expect(await container.getBlobClient("flaky.error.json").exists()).toBe(false);
  });

  it("rejects what Azure refuses (upstream_permanent) with a record, without throwing", async () => {
    // Azure answers 400: a refusal of the message itself.
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 400, times: 1 }]);
    const outcome = await processEmbeddingsMessage(delivery({ id: "refused", input: "x" }), deps);
    expect(outcome).toMatchObject({ status: "rejected", id: "refused" });
    const record = JSON.parse((await download("refused.error.json")).toString());
    expect(record).toMatchObject({ status: "rejected", kind: "upstream_permanent" });
    expect(record.reason).toMatch(/rejected the request \(400\)/);
  });

  it("keeps a message whose deployment is missing on the resource (404) for retries and the poison queue", async () => {
    // A configured deployment that the resource does not have: the app's fault, not the message's.
    const error = await processEmbeddingsMessage(delivery({ id: "gone", input: "x" }), {
      ...deps,
      embed: { ...deps.embed, deployments: ["no-such-deployment"] },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "upstream_permanent", status: 404 });
    const record = JSON.parse((await download("gone.error.json")).toString());
    expect(record).toMatchObject({ id: "gone", status: "retrying", kind: "upstream_permanent" });
    expect(record.reason).toMatch(/404/);
  });

  it("keeps a message Azure refuses for the app's credentials (401) for retries and the poison queue, with a record", async () => {
    const config = loadConfig({ AZURE_OPENAI_ENDPOINT: sim.url, AZURE_OPENAI_API_KEY: "not-the-key", AzureWebJobsStorage: azurite.connectionString });
    const refused = new EmbeddingsBatcher({ client: await createOpenAIClient(config.openai), maxInputsPerRequest: 2048, maxTokensPerRequest: 300_000, maxWaitInMs: 5, transientRetries: 0 });
    const error = await processEmbeddingsMessage(delivery({ id: "no-role", input: "x" }), { ...deps, embed: { ...deps.embed, batcher: refused } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "upstream_permanent", status: 401 });
    const record = JSON.parse((await download("no-role.error.json")).toString());
    expect(record).toMatchObject({ id: "no-role", status: "retrying", kind: "upstream_permanent" });
    expect(record.reason).toMatch(/credentials \(401\)/);
  });
});

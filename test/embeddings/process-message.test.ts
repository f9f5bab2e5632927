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
import { createRouter } from "../../src/routing/index.js";
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
  const config = loadConfig({
    AZURE_OPENAI_ENDPOINT: sim.url,
    AZURE_OPENAI_API_KEY: sim.apiKey,
    AzureWebJobsStorage: azurite.connectionString,
  });
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient("embeddings");
  queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient("embeddings");
  await queue.createIfNotExists();
  const router = createRouter(config.openai);
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

/** The one message on the queue, as the host would deliver it. */
async function receiveCopy(): Promise<{ body: unknown; text: string; messageId: string; dequeueCount: number }> {
  const [message] = (await queue.receiveMessages({ visibilityTimeout: 1 })).receivedMessageItems;
  expect(message, "a message on the queue").toBeDefined();
  await queue.deleteMessage(message!.messageId, message!.popReceipt);
  const text = message!.messageText;
  return {
    body: JSON.parse(Buffer.from(text, "base64").toString("utf8")) as unknown,
    text,
    messageId: message!.messageId,
    dequeueCount: message!.dequeueCount,
  };
}

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
    expect(await processEmbeddingsMessage(delivery({ id, input: "late text" }), { ...deps, queue: watchedQueue })).toMatchObject({
      status: "requeued",
      id,
    });
    expect(recordAtSend).toEqual([true]);
    await sim.control.setFaults(DEPLOYMENT, []);
    // The shared batcher holds the deployment until Azure's delay is over: let it pass.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
  });

  it("hands back a message near the queue's 64 KiB limit by reference, keeping its enqueue time", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 1000 }]);
    // 49,152 bytes of JSON is exactly 64 KiB in base64: the copy fits only without enqueuedAt.
    const id = "near-limit";
    const input = "word ".repeat(9_820);
    expect(JSON.stringify({ id, input }).length).toBeLessThanOrEqual(49_152);
    expect(JSON.stringify({ id, input, enqueuedAt: "2025-01-31T10:15:00.000Z" }).length).toBeGreaterThan(49_152);
    expect(await processEmbeddingsMessage(delivery({ id, input }), deps)).toMatchObject({ status: "requeued", id });
    await sim.control.setFaults(DEPLOYMENT, []);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const copy = await receiveCopy();
    expect(copy.body).toEqual({ id, handback: expect.stringMatching(/^\.handback\/[0-9a-f-]{36}\.json$/) });
    expect(await processEmbeddingsMessage({ ...copy, insertionTime: new Date().toISOString() }, deps)).toMatchObject({
      status: "embedded",
      id,
    });
    expect(JSON.parse((await download(`${id}.json`)).toString()).createdAt).toBe("2025-01-31T10:15:00.000Z");
    expect(await container.getBlobClient((copy.body as { handback: string }).handback).exists()).toBe(false);
  });

  it("never poisons a message without an id near the 64 KiB limit: the id its copy needs goes into a blob, not over the limit", async () => {
    // Without an id, the output is named after the queue message's id, which the copy must carry:
    // 44 more bytes, which took this message over the queue's limit and the queue refused the copy.
    const input = "word ".repeat(9_826);
    expect(JSON.stringify({ input }).length).toBeLessThanOrEqual(49_152);
    expect(JSON.stringify({ id: delivery({}).messageId, input }).length).toBeGreaterThan(49_152);
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 1000 }]);
    // Every delivery but the last would be spent; the last one must still hand the work back.
    expect(await processEmbeddingsMessage(delivery({ input }, 5), deps)).toMatchObject({ status: "requeued", id: delivery({}).messageId });
    await sim.control.setFaults(DEPLOYMENT, []);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const copy = await receiveCopy();
    expect(copy.text.length).toBeLessThan(200);
    // Throttled again: the reference goes back as it is, the blob stays for it.
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 1000 }]);
    expect(await processEmbeddingsMessage({ ...copy, insertionTime: new Date().toISOString() }, deps)).toMatchObject({
      status: "requeued",
    });
    await sim.control.setFaults(DEPLOYMENT, []);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await receiveCopy();
    expect(second.body).toEqual(copy.body);
    const outcome = await processEmbeddingsMessage({ ...second, insertionTime: new Date().toISOString() }, deps);
    expect(outcome).toMatchObject({ status: "embedded", id: delivery({}).messageId });
    const output = JSON.parse((await download(`${delivery({}).messageId}.json`)).toString());
    expect(output.createdAt).toBe("2025-01-31T10:15:00.000Z");
    expect(await container.getBlobClient(`${delivery({}).messageId}.error.json`).exists()).toBe(false);
    // A redelivery of the finished reference (the host failed to delete it) does nothing twice.
    const requestsBefore = (await sim.control.counters()).total.requests;
    expect(await processEmbeddingsMessage({ ...second, insertionTime: new Date().toISOString() }, deps)).toMatchObject({
      status: "embedded",
      items: 0,
    });
    expect((await sim.control.counters()).total.requests).toBe(requestsBefore);
  });

  it("rejects a reference the app never wrote, without calling Azure", async () => {
    const outcome = await processEmbeddingsMessage(
      delivery({ id: "forged", handback: ".handback/00000000-0000-4000-8000-000000000000.json" }),
      deps,
    );
    expect(outcome).toMatchObject({ status: "rejected", id: "forged" });
    expect(JSON.parse((await download("forged.error.json")).toString())).toMatchObject({ status: "rejected", code: "handback_missing" });
    const bad = await processEmbeddingsMessage(delivery({ id: "forged2", handback: "../elsewhere.json" }), deps);
    expect(bad).toMatchObject({ status: "rejected" });
    expect((await sim.control.counters()).total.requests).toBe(0);
  });

  it("keeps the reason an earlier delivery rejected handed-back work for, when the reference comes again", async () => {
    const reference = { id: "filtered-later", handback: ".handback/00000000-0000-4000-8000-0000000000aa.json" };
    const earlier = {
      id: "filtered-later",
      queueMessageId: "m1",
      status: "rejected",
      kind: "upstream_permanent",
      code: "content_filter",
      reason: "Azure OpenAI's content filter blocked the request",
      dequeueCount: 1,
      failedAt: "2025-01-31T10:15:00.000Z",
    };
    await container.getBlockBlobClient("filtered-later.error.json").upload(JSON.stringify(earlier), JSON.stringify(earlier).length);
    expect(await processEmbeddingsMessage(delivery(reference, 2), deps)).toMatchObject({
      status: "rejected",
      id: "filtered-later",
      reason: earlier.reason,
    });
    expect(JSON.parse((await download("filtered-later.error.json")).toString())).toEqual(earlier);
  });

  it("rejects metadata nested past the nesting limit once, with a record and without calling Azure", async () => {
    const metadata = JSON.parse('{"a":'.repeat(6000) + "1" + "}".repeat(6000)) as Record<string, unknown>;
    const outcome = await processEmbeddingsMessage(delivery({ id: "deep", input: "text", metadata }), deps);
    expect(outcome).toMatchObject({ status: "rejected", id: "deep" });
    const record = JSON.parse((await download("deep.error.json")).toString());
    expect(record).toMatchObject({ status: "rejected", kind: "bad_input", code: "json_too_deep", param: "metadata" });
    expect(record.reason).toContain("more than 64 levels deep");
    expect((await sim.control.counters()).total.requests).toBe(0);
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

  it("classifies an answer cut off mid-body as a broken connection (retried), not an unexpected error", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: "drop", times: 1 }]);
    const error = await processEmbeddingsMessage(delivery({ id: "cut", input: "x" }), deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ kind: "transient", code: "connection_lost" });
    const record = JSON.parse((await download("cut.error.json")).toString());
    expect(record).toMatchObject({ status: "retrying", kind: "transient", code: "connection_lost" });
    expect(record.reason).not.toMatch(/Unexpected error/);
    expect(record.reason).toContain("broke off in the middle of its answer");
  });

  it("spends no storage call on a record that cannot exist: a first delivery under its queue-assigned id", async () => {
    const cleared: string[] = [];
    const store = new Proxy(deps.store, {
      get(target, property) {
        if (property !== "clearError") return Reflect.get(target, property) as unknown;
        return async (id: string) => {
          cleared.push(id);
          return target.clearError(id);
        };
      },
    });
    const watched = { ...deps, store };
    await processEmbeddingsMessage(delivery({ input: "fresh" }), watched);
    expect(cleared).toEqual([]);
    // A redelivery, or an id the sender chose (an earlier message may have used it), still clears.
    await processEmbeddingsMessage(delivery({ input: "again" }, 2), watched);
    await processEmbeddingsMessage(delivery({ id: "chosen", input: "named" }), watched);
    expect(cleared).toEqual([delivery({}).messageId, "chosen"]);
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
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: sim.url,
      AZURE_OPENAI_API_KEY: sim.apiKey,
      AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT: "no-such-deployment",
      AzureWebJobsStorage: azurite.connectionString,
    });
    const error = await processEmbeddingsMessage(delivery({ id: "gone", input: "x" }), {
      ...deps,
      embed: { ...deps.embed, router: createRouter(config.openai), defaultModel: "no-such-deployment" },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "configuration", status: 404 });
    const record = JSON.parse((await download("gone.error.json")).toString());
    expect(record).toMatchObject({ id: "gone", status: "retrying", kind: "configuration" });
    expect(record.reason).toMatch(/404/);
  });

  it("keeps a message Azure refuses for the app's credentials (401) for retries and the poison queue, with a record", async () => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: sim.url,
      AZURE_OPENAI_API_KEY: "not-the-key",
      AzureWebJobsStorage: azurite.connectionString,
    });
    const router = createRouter(config.openai);
    const refused = new EmbeddingsBatcher({
      router,
      maxInputsPerRequest: 2048,
      maxTokensPerRequest: 300_000,
      maxWaitInMs: 5,
      retry: { transientRetries: 0, transientBackoffInMs: 5 },
    });
    const error = await processEmbeddingsMessage(delivery({ id: "no-role", input: "x" }), {
      ...deps,
      embed: { ...deps.embed, batcher: refused, router },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "configuration", status: 401 });
    const record = JSON.parse((await download("no-role.error.json")).toString());
    expect(record).toMatchObject({ id: "no-role", status: "retrying", kind: "configuration" });
    expect(record.reason).toMatch(/refused the API key \(401\)\. Check AZURE_OPENAI_API_KEY/);
  });
});

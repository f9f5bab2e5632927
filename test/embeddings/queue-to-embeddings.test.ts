/**
 * Queue messages in, embeddings blobs out, through the real app in the local Functions host with
 * Azurite and the simulator (run `npm run build` first): 1,000 messages under injected 429s,
 * 500s and dropped connections; malformed messages; a long input split into chunks; a message
 * that keeps failing ends in poison with an error record.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { startStack, type Stack } from "../support/stack.js";
import type { EmbeddingsErrorRecord, EmbeddingsOutput } from "../../src/embeddings/result-store.js";

const DEPLOYMENT = "text-embedding-3-small";
const CHUNK_TOKENS = 64;
const OVERLAP_TOKENS = 8;

let stack: Stack;
let container: ContainerClient;
let queue: QueueClient;
let poison: QueueClient;
let direct: OpenAI;

beforeAll(async () => {
  // Fast redelivery for the test; a bigger batch so more invocations share requests.
  const hostJson = JSON.parse(readFileSync(path.join(REPO_ROOT, "host.json"), "utf8")) as {
    extensions: { queues: Record<string, unknown> };
  };
  Object.assign(hostJson.extensions.queues, {
    batchSize: 32,
    newBatchThreshold: 16,
    visibilityTimeout: "00:00:01",
    maxPollingInterval: "00:00:00.200",
    maxDequeueCount: 3,
  });
  const hostJsonPath = path.join(mkdtempSync(path.join(tmpdir(), "embeddings-host-")), "host.json");
  writeFileSync(hostJsonPath, JSON.stringify(hostJson));
  stack = await startStack({
    hostJson: hostJsonPath,
    simulator: { latency: { embeddingsMs: 1, stdDevRatio: 0 }, journalBodies: false },
    env: {
      EMBEDDINGS_CHUNK_TOKENS: String(CHUNK_TOKENS),
      EMBEDDINGS_CHUNK_OVERLAP_TOKENS: String(OVERLAP_TOKENS),
      EMBEDDINGS_MAX_INPUTS_PER_REQUEST: "2048",
    },
  });
  container = stack.blobService.getContainerClient("embeddings");
  queue = stack.queueService.getQueueClient("embeddings");
  poison = stack.queueService.getQueueClient("embeddings-poison");
  direct = new OpenAI({ baseURL: `${stack.simulator.url}/openai/v1/`, apiKey: stack.simulator.apiKey });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** How producers send: UTF-8 JSON, base64-encoded (host.json messageEncoding "base64"). */
async function send(message: unknown): Promise<string> {
  const text = typeof message === "string" ? message : JSON.stringify(message);
  const response = await queue.sendMessage(Buffer.from(text, "utf8").toString("base64"));
  return response.messageId;
}

async function readJson<T>(name: string): Promise<T> {
  return JSON.parse((await container.getBlobClient(name).downloadToBuffer()).toString("utf8")) as T;
}

async function blobNames(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name);
  return names;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function waitForBlob(name: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(name, async () => ((await container.getBlobClient(name).exists()) ? true : undefined), timeoutMs);
}

async function poisonTexts(): Promise<string[]> {
  const peeked = await poison.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((m) => Buffer.from(m.messageText, "base64").toString("utf8"));
}

describe("queue -> embeddings through the local host", () => {
  it("embeds 1,000 messages under injected 429s, 500s and dropped connections: every output once, none poisoned, few requests", async () => {
    await stack.simulator.control.reset({ keepDeployments: true });
    await stack.simulator.control.setFaults(DEPLOYMENT, [
      { kind: 429, every: 5, ms: 100 },
      { kind: 500, every: 7 },
      { kind: "reset", every: 11 },
    ]);
    const ids = Array.from({ length: 1000 }, (_, i) => `bulk/${String(i).padStart(4, "0")}`);
    const started = Date.now();
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids
          .slice(i, i + 100)
          .map((id, j) => send({ id, input: `message ${i + j} about ${id} and topic ${(i + j) % 13}`, metadata: { n: i + j } })),
      );
    }
    const outputs = await waitFor(
      "1,000 outputs",
      async () => {
        const names = await blobNames("bulk/");
        return names.length >= 1000 ? names : undefined;
      },
      90_000,
    );
    const seconds = (Date.now() - started) / 1000;
    await stack.simulator.control.setFaults(DEPLOYMENT, []);

    expect(outputs.sort()).toEqual(ids.map((id) => `${id}.json`));
    expect(await poisonTexts()).toEqual([]);
    const counters = await stack.simulator.control.counters();
    const embeddings = counters.deployments[DEPLOYMENT]!;
    // Batching: far fewer requests (retries and 429s included) than messages.
    expect(embeddings.requests).toBeLessThan(250);
    expect(embeddings.throttled).toBeGreaterThan(0);
    expect(embeddings.statuses["500"] ?? 0).toBeGreaterThan(0);
    console.info(
      `1,000 messages in ${seconds.toFixed(1)} s with ${embeddings.requests} embeddings requests (${embeddings.throttled} throttled, ${embeddings.statuses["500"] ?? 0} x 500)`,
    );

    const sample = await readJson<EmbeddingsOutput>("bulk/0042.json");
    const expected = await direct.embeddings.create({ model: DEPLOYMENT, input: "message 42 about bulk/0042 and topic 3" });
    expect(sample).toMatchObject({
      id: "bulk/0042",
      deployment: DEPLOYMENT,
      model: DEPLOYMENT,
      routing: { model: DEPLOYMENT, backends: [`127:${new URL(stack.simulator.url).port}/${DEPLOYMENT}`] },
      dimensions: 1536,
      metadata: { n: 42 },
    });
    expect(sample.usage.prompt_tokens).toBe(expected.usage.prompt_tokens);
    expect(sample.items).toHaveLength(1);
    expect(sample.items[0]).toMatchObject({ input: 0, chunk: 0, start: 0, end: "message 42 about bulk/0042 and topic 3".length });
    expect(sample.items[0]!.embedding).toEqual(expected.data[0]!.embedding);
    expect(new Date(sample.createdAt).getTime()).toBeGreaterThanOrEqual(started - 1000);
  }, 150_000);

  it("answers malformed messages with specific error records at the first delivery, never poisoning them", async () => {
    const notJsonId = await send("this is not json");
    await send({ id: "bad-schema", inputs: ["typo in the field name"] });
    await send({ id: "bad-empty", input: ["fine", "   "] });
    await send({ id: "bad-deployment", input: "x", deployment: "gpt-4o-mini" });
    await send({ id: "bad-model", input: "x", model: "no-such-model" });
    await send({ id: "bad-dimensions", input: "x", dimensions: 0 });
    await send({ id: "bad-no-items", input: [] });

    const expectations: Record<string, { code: string; param?: string; reason: RegExp }> = {
      [notJsonId]: { code: "invalid_json", reason: /not a JSON object/ },
      "bad-schema": { code: "schema_violation", reason: /unknown field.*"inputs"/ },
      "bad-empty": { code: "empty_input", param: "input[1]", reason: /input\[1\]/ },
      "bad-deployment": {
        code: "model_not_found",
        param: "deployment",
        reason: /'gpt-4o-mini' does not serve embeddings; use 'text-embedding-3-small'/,
      },
      "bad-model": { code: "model_not_found", param: "model", reason: /'no-such-model' does not exist here/ },
      "bad-dimensions": { code: "schema_violation", param: "dimensions", reason: /dimensions/ },
      "bad-no-items": { code: "empty_input", param: "input", reason: /empty/ },
    };
    for (const [id, expected] of Object.entries(expectations)) {
      await waitForBlob(`${id}.error.json`);
      const record = await readJson<EmbeddingsErrorRecord>(`${id}.error.json`);
      expect(record, id).toMatchObject({ id, status: "rejected", kind: "bad_input", code: expected.code, dequeueCount: 1 });
      if (expected.param) expect(record.param, id).toBe(expected.param);
      expect(record.reason, id).toMatch(expected.reason);
      expect(await container.getBlobClient(`${id}.json`).exists(), id).toBe(false);
    }
    // Completed at once: nothing is left to retry, nothing went to poison.
    await waitFor("an empty queue", async () => ((await queue.getProperties()).approximateMessagesCount === 0 ? true : undefined), 10_000);
    expect(await poisonTexts()).toEqual([]);
  }, 60_000);

  it("splits a long input into chunks under the token limit and records each chunk's input index and character range", async () => {
    const long = Array.from({ length: 120 }, (_, i) => `Sentence ${i} talks about subject ${i % 9} at some length.`).join(" ");
    await send({ id: "long-1", input: ["a short one", long], metadata: { kind: "long" } });
    await waitForBlob("long-1.json");
    const output = await readJson<EmbeddingsOutput>("long-1.json");

    expect(output.items[0]).toMatchObject({ input: 0, chunk: 0, start: 0, end: 11 });
    const chunks = output.items.filter((item) => item.input === 1);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.map((c) => c.chunk)).toEqual(chunks.map((_, i) => i));
    expect(chunks[0]!.start).toBe(0);
    expect(chunks.at(-1)!.end).toBe(long.length);
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]!.start).toBeGreaterThan(chunks[i - 1]!.start);
      expect(chunks[i]!.start).toBeLessThan(chunks[i - 1]!.end); // overlap
    }
    // Each vector is the embedding of exactly that slice of the input, under the token limit.
    const slices = chunks.map((c) => long.slice(c.start, c.end));
    const expected = await direct.embeddings.create({ model: DEPLOYMENT, input: slices });
    expect(chunks.map((c) => c.embedding)).toEqual(expected.data.map((d) => d.embedding));
    const perChunk = await Promise.all(slices.map((s) => direct.embeddings.create({ model: DEPLOYMENT, input: s })));
    for (const response of perChunk) expect(response.usage.prompt_tokens).toBeLessThanOrEqual(CHUNK_TOKENS);
    expect(output.usage.prompt_tokens).toBe(
      expected.usage.prompt_tokens + (await direct.embeddings.create({ model: DEPLOYMENT, input: "a short one" })).usage.prompt_tokens,
    );
  }, 60_000);

  it("moves a message that keeps failing to poison, with an error record saying why", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: 503 }]);
    try {
      await send({ id: "always-failing", input: "the service is down" });
      await waitFor(
        "the poison message",
        async () => ((await poisonTexts()).some((t) => t.includes("always-failing")) ? true : undefined),
        45_000,
      );
    } finally {
      await stack.simulator.control.setFaults(DEPLOYMENT, []);
    }
    const record = await readJson<EmbeddingsErrorRecord>("always-failing.error.json");
    expect(record).toMatchObject({ id: "always-failing", status: "retrying", kind: "transient", dequeueCount: 3 });
    expect(record.reason).toMatch(/503/);
    expect(await container.getBlobClient("always-failing.json").exists()).toBe(false);
  }, 60_000);
});

/**
 * Every row of the failure table (src/failure-actions.ts; README "Retry budget") for every
 * trigger, through the real app in the local Functions host with Azurite and the simulator (run
 * `npm run build` first): what a user sees, and how many requests reached Azure OpenAI.
 *
 * Settings chosen so each number is distinct: AZURE_OPENAI_MAX_RETRIES=1 (2 attempts per transient
 * failure and delivery), 2 deliveries per message or blob (host.json), throttle budgets of 1.2 s
 * against a Retry-After of 400 ms.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI, { APIConnectionError, APIError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EmbeddingsErrorRecord } from "../src/embeddings/result-store.js";
import type { FaultRule } from "../tools/simulator/deployments.js";
import { REPO_ROOT } from "../tools/repo-root.js";
import { makeWav } from "./support/audio/wav.js";
import { startStack, type Stack } from "./support/stack.js";

const RETRIES = 1;
const DELIVERIES = 2;
const THROTTLE_BUDGET_MS = 1200;
const RETRY_AFTER_MS = 400;
const CHAT = "gpt-4o-mini";
const EMBEDDINGS = "text-embedding-3-small";
const WHISPER = "whisper";

/** The injected failures, one per row of the table, as Azure OpenAI would answer them. */
const FAILURES = {
  "Azure rejects the request (400)": { kind: 400 },
  "Azure refuses the app's credentials (401)": { kind: 401 },
  "the deployment is missing (404)": { kind: 404 },
  "Azure fails (500)": { kind: 500 },
  "the connection is reset": { kind: "reset" },
  "Azure throttles (429)": { kind: 429, ms: RETRY_AFTER_MS },
} satisfies Record<string, FaultRule>;
type Failure = keyof typeof FAILURES;

let stack: Stack;
let client: OpenAI;
let embeddingsContainer: ContainerClient;
let queue: QueueClient;
let poison: QueueClient;

beforeAll(async () => {
  const hostJson = JSON.parse(readFileSync(path.join(REPO_ROOT, "host.json"), "utf8")) as {
    extensions: { queues: Record<string, unknown>; blobs: Record<string, unknown> };
  };
  Object.assign(hostJson.extensions.queues, {
    visibilityTimeout: "00:00:01",
    maxPollingInterval: "00:00:00.200",
    maxDequeueCount: DELIVERIES,
  });
  Object.assign(hostJson.extensions.blobs, { poisonBlobThreshold: DELIVERIES });
  const hostJsonPath = path.join(mkdtempSync(path.join(tmpdir(), "failure-matrix-")), "host.json");
  writeFileSync(hostJsonPath, JSON.stringify(hostJson));
  stack = await startStack({
    hostJson: hostJsonPath,
    simulator: { journalBodies: false },
    env: {
      HTTP_AUTH_LEVEL: "anonymous",
      AZURE_OPENAI_MAX_RETRIES: String(RETRIES),
      EMBEDDINGS_THROTTLE_BUDGET_MS: String(THROTTLE_BUDGET_MS),
      TRANSCRIPTION_THROTTLE_BUDGET_MS: String(THROTTLE_BUDGET_MS),
    },
  });
  client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
  embeddingsContainer = stack.blobService.getContainerClient("embeddings");
  queue = stack.queueService.getQueueClient("embeddings");
  poison = stack.queueService.getQueueClient("embeddings-poison");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

beforeEach(async () => {
  await stack.simulator.control.reset({ keepDeployments: true });
});

async function inject(deployment: string, failure: Failure): Promise<void> {
  await stack.simulator.control.setFaults(deployment, [FAILURES[failure]]);
}

/** Requests that reached the deployment since the last reset. */
async function attempts(deployment: string): Promise<number> {
  return (await stack.simulator.control.journal({ deployment })).length;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The status and error an official client sees, or "ok". */
async function httpOutcome(
  call: () => Promise<unknown>,
): Promise<{ status: number | "ok" | "no answer"; type?: string; code?: string | null }> {
  try {
    await call();
    return { status: "ok" };
  } catch (error) {
    if (error instanceof APIError && error.status !== undefined) {
      const body = error.error as { type?: string; code?: string | null } | undefined;
      return { status: error.status, type: body?.type, code: body?.code };
    }
    if (error instanceof APIConnectionError) return { status: "no answer" };
    throw error;
  }
}

describe("HTTP: one attempt for every failure, answered so the caller's client can decide", () => {
  const rows: Array<[Failure, number, string]> = [
    ["Azure rejects the request (400)", 400, "invalid_request_error"],
    ["Azure refuses the app's credentials (401)", 502, "upstream_error"],
    ["the deployment is missing (404)", 502, "upstream_error"],
    ["Azure fails (500)", 502, "upstream_error"],
    ["the connection is reset", 503, "upstream_error"],
    ["Azure throttles (429)", 429, "rate_limit_error"],
  ];
  it.each(rows)("chat: %s -> %i %s", async (failure, status, type) => {
    await inject(CHAT, failure);
    const outcome = await httpOutcome(() => client.chat.completions.create({ model: CHAT, messages: [{ role: "user", content: "hi" }] }));
    expect(outcome).toMatchObject({ status, type });
    expect(await attempts(CHAT)).toBe(1);
  });
  it.each(rows)("embeddings: %s -> %i %s", async (failure, status, type) => {
    await inject(EMBEDDINGS, failure);
    const outcome = await httpOutcome(() => client.embeddings.create({ model: EMBEDDINGS, input: "hi" }));
    expect(outcome).toMatchObject({ status, type });
    expect(await attempts(EMBEDDINGS)).toBe(1);
  });
  it("bad input -> 400 and no attempt", async () => {
    const outcome = await httpOutcome(() =>
      client.chat.completions.create({ model: CHAT, messages: [{ role: "wizard", content: "hi" }] } as never),
    );
    expect(outcome).toMatchObject({ status: 400, type: "invalid_request_error" });
    expect(await attempts(CHAT)).toBe(0);
  });
});

describe("queue (embeddings): rejected, retried into poison, or handed back, per the failure's kind", () => {
  let sequence = 0;
  async function send(message: unknown): Promise<void> {
    const text = typeof message === "string" ? message : JSON.stringify(message);
    await queue.sendMessage(Buffer.from(text, "utf8").toString("base64"));
  }
  async function record(id: string): Promise<EmbeddingsErrorRecord | undefined> {
    const blob = embeddingsContainer.getBlobClient(`${id}.error.json`);
    if (!(await blob.exists())) return undefined;
    return JSON.parse((await blob.downloadToBuffer()).toString("utf8")) as EmbeddingsErrorRecord;
  }
  async function poisoned(id: string): Promise<boolean> {
    const peeked = await poison.peekMessages({ numberOfMessages: 32 });
    return peeked.peekedMessageItems.some((m) => Buffer.from(m.messageText, "base64").toString("utf8").includes(`"${id}"`));
  }

  it.each<[Failure, number]>([
    ["Azure rejects the request (400)", 1],
    ["Azure refuses the app's credentials (401)", DELIVERIES],
    ["the deployment is missing (404)", DELIVERIES],
    ["Azure fails (500)", DELIVERIES * (1 + RETRIES)],
    ["the connection is reset", DELIVERIES * (1 + RETRIES)],
  ])("%s: %i attempt(s) in all", async (failure, expected) => {
    const id = `matrix-${++sequence}`;
    await inject(EMBEDDINGS, failure);
    await send({ id, input: `text for ${failure}` });
    const rejected = failure === "Azure rejects the request (400)";
    if (rejected) {
      expect(await waitFor("the rejected record", () => record(id))).toMatchObject({ status: "rejected", kind: "upstream_permanent" });
    } else {
      await waitFor("the message in the poison queue", async () => ((await poisoned(id)) ? true : undefined));
      const kind = failure.includes("40") ? "configuration" : "transient";
      expect(await record(id)).toMatchObject({ status: "retrying", kind, dequeueCount: DELIVERIES });
    }
    // Nothing further reaches Azure: count once the outcome is final, and again a little later.
    expect(await attempts(EMBEDDINGS)).toBe(expected);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await attempts(EMBEDDINGS)).toBe(expected);
    expect(await poisoned(id)).toBe(!rejected);
  });

  it("Azure throttles (429): waited out for the budget, then handed back without spending a delivery, never poisoned", async () => {
    const id = `matrix-${++sequence}`;
    await inject(EMBEDDINGS, "Azure throttles (429)");
    await send({ id, input: "throttled text" });
    const handedBack = await waitFor("the hand-back record", async () => {
      const found = await record(id);
      return found?.status === "retrying" ? found : undefined;
    });
    expect(handedBack).toMatchObject({ kind: "throttled", code: "throttle_budget_exhausted" });
    expect(handedBack.reason).toMatch(/A new message with the same work is visible on the queue in \d+ s\.$/);
    // Within the budget: one attempt, then one per Retry-After.
    const inBudget = await attempts(EMBEDDINGS);
    expect(inBudget).toBeGreaterThanOrEqual(2);
    expect(inBudget).toBeLessThanOrEqual(Math.ceil(THROTTLE_BUDGET_MS / RETRY_AFTER_MS) + 1);

    await stack.simulator.control.setFaults(EMBEDDINGS, []);
    await waitFor("the output", async () => ((await embeddingsContainer.getBlobClient(`${id}.json`).exists()) ? true : undefined));
    await waitFor("the record removed", async () => ((await record(id)) === undefined ? true : undefined));
    expect(await poisoned(id)).toBe(false);
  });

  it("bad input: rejected at once with no attempt", async () => {
    await send(`{"id": "matrix-bad", "input": `);
    // A message that is not JSON has no id of its own: its record is named after the queue message.
    const found = await waitFor("the rejected record", async () => {
      for await (const blob of embeddingsContainer.listBlobsFlat()) {
        if (!blob.name.endsWith(".error.json")) continue;
        const candidate = JSON.parse((await embeddingsContainer.getBlobClient(blob.name).downloadToBuffer()).toString("utf8"));
        if ((candidate as EmbeddingsErrorRecord).code === "invalid_json") return candidate as EmbeddingsErrorRecord;
      }
      return undefined;
    });
    expect(found).toMatchObject({ status: "rejected", kind: "bad_input" });
    expect(await attempts(EMBEDDINGS)).toBe(0);
  });
});

describe("blob (transcription): failed at once, or delivered again and then failed saying why, per the failure's kind", () => {
  let sequence = 0;
  interface StatusBody {
    state: string;
    attempts: number;
    error?: { kind: string; code?: string; message: string; willRetry: boolean };
  }
  async function finalStatus(name: string): Promise<StatusBody> {
    return waitFor(`a final status of ${name}`, async () => {
      const response = await fetch(`${stack.host.url}/api/transcriptions/${name}`);
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as StatusBody;
      return body.state === "failed" && body.error?.willRetry === false ? body : undefined;
    });
  }
  async function upload(name: string, content: Uint8Array): Promise<void> {
    await stack.blobService.getContainerClient("audio").getBlockBlobClient(name).uploadData(content);
  }

  it.each<[Failure, string, number]>([
    ["Azure rejects the request (400)", "upstream_permanent", 1],
    ["Azure refuses the app's credentials (401)", "configuration", DELIVERIES],
    ["the deployment is missing (404)", "configuration", DELIVERIES],
    ["Azure fails (500)", "transient", DELIVERIES * (1 + RETRIES)],
    ["the connection is reset", "transient", DELIVERIES * (1 + RETRIES)],
  ])("%s: %s, %i attempt(s) in all", async (failure, kind, expected) => {
    const name = `matrix-${++sequence}.wav`;
    await inject(WHISPER, failure);
    await upload(name, makeWav([{ tone: 440, seconds: 2 }]));
    const status = await finalStatus(name);
    expect(status.error).toMatchObject({ kind });
    expect(status.attempts).toBe(kind === "upstream_permanent" ? 1 : DELIVERIES);
    expect(await attempts(WHISPER)).toBe(expected);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await attempts(WHISPER)).toBe(expected);
  });

  it("Azure throttles (429): waited out per chunk for the budget on each delivery, then failed saying why", async () => {
    const name = `matrix-${++sequence}.wav`;
    await inject(WHISPER, "Azure throttles (429)");
    await upload(name, makeWav([{ tone: 440, seconds: 2 }]));
    const status = await finalStatus(name);
    expect(status).toMatchObject({ attempts: DELIVERIES, error: { kind: "throttled" } });
    const perDelivery = Math.ceil(THROTTLE_BUDGET_MS / RETRY_AFTER_MS) + 1;
    const total = await attempts(WHISPER);
    expect(total).toBeGreaterThanOrEqual(DELIVERIES * 2);
    expect(total).toBeLessThanOrEqual(DELIVERIES * perDelivery);
  });

  it("bad input (not audio): failed at once with no attempt", async () => {
    const name = `matrix-${++sequence}.wav`;
    await upload(name, Buffer.from("this is not audio at all, just some text in a .wav file"));
    const status = await finalStatus(name);
    expect(status).toMatchObject({ attempts: 1, error: { kind: "bad_input" } });
    expect(await attempts(WHISPER)).toBe(0);
  });
});

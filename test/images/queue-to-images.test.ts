/**
 * Images queue messages in, PNGs and records out, through the real app in the local Functions
 * host with Azurite and the simulator's gpt-image-1 (run `npm run build` first): n > 1, bad input
 * rejected without calling Azure, a redelivered finished message, a 429 storm, and a new message
 * with an existing id and fewer images replacing the earlier output whole.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import type { ImagesRecord } from "../../src/images/images-store.js";
import type { JobErrorRecord } from "../../src/queue-jobs/job-store.js";
import { startStack, type Stack } from "../support/stack.js";
import { blobNames, hostJsonWith, queueLength, readBlob, readJsonBlob, sendJson, waitFor } from "../support/queue-jobs.js";

const DEPLOYMENT = "gpt-image-1";

let stack: Stack;
let container: ContainerClient;
let queue: QueueClient;
let poison: QueueClient;

beforeAll(async () => {
  stack = await startStack({
    hostJson: hostJsonWith({ visibilityTimeout: "00:00:01", maxPollingInterval: "00:00:00.200", maxDequeueCount: 3 }),
    simulator: { latency: NO_LATENCY, journalBodies: false },
  });
  container = stack.blobService.getContainerClient("images");
  queue = stack.queueService.getQueueClient("images");
  poison = stack.queueService.getQueueClient("images-poison");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function imageRequests(): Promise<number> {
  return (await stack.simulator.control.counters()).deployments[DEPLOYMENT]?.requests ?? 0;
}

const record = (id: string) => readJsonBlob<ImagesRecord>(container, `${id}.json`);
const errorRecord = (id: string) => readJsonBlob<JobErrorRecord>(container, `${id}.error.json`);
const waitForRecord = (id: string, timeoutMs = 60_000) => waitFor(`${id}.json`, () => record(id), timeoutMs);

/** Width and height from a PNG's IHDR, after checking its signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(bytes.toString("latin1", 12, 16)).toBe("IHDR");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe("queue -> images through the local host", () => {
  it("generates n = 3 images as {id}/1.png ... 3.png with a record of the request, filter results and usage", async () => {
    await sendJson(queue, { id: "fox", prompt: "a red fox in the snow, watercolour", size: "1536x1024", quality: "low", n: 3 });
    const found = await waitForRecord("fox");
    expect(found).toMatchObject({
      id: "fox",
      deployment: DEPLOYMENT,
      request: { prompt: "a red fox in the snow, watercolour", size: "1536x1024", quality: "low", n: 3 },
      size: "1536x1024",
      quality: "low",
    });
    expect(found.images.map((image) => [image.index, image.name])).toEqual([
      [1, "fox/1.png"],
      [2, "fox/2.png"],
      [3, "fox/3.png"],
    ]);
    expect(found.images[0]!.contentFilterResults).toMatchObject({ violence: { filtered: false } });
    expect(found.usage).toMatchObject({ output_tokens: 3 * 400 });
    for (const image of found.images) {
      const bytes = (await readBlob(container, image.name))!;
      expect(bytes.length).toBe(image.bytes);
      expect(pngSize(bytes)).toEqual({ width: 1536, height: 1024 });
    }
    expect(await blobNames(container, "fox")).toEqual(["fox.json", "fox/1.png", "fox/2.png", "fox/3.png"]);
  });

  it("rejects bad input with a record and no Azure call", async () => {
    const before = await imageRequests();
    await sendJson(queue, { id: "bad/n", prompt: "cats", n: 11 });
    await sendJson(queue, { id: "bad/size", prompt: "cats", size: "999x999" });
    await sendJson(queue, { id: "bad/prompt", prompt: "" });
    const n = await waitFor("bad/n.error.json", () => errorRecord("bad/n"));
    expect(n).toMatchObject({ status: "rejected", kind: "bad_input", code: "schema_violation", param: "n" });
    expect(n.reason).toContain("1 to 10");
    expect(await waitFor("bad/size.error.json", () => errorRecord("bad/size"))).toMatchObject({ status: "rejected", param: "size" });
    expect(await waitFor("bad/prompt.error.json", () => errorRecord("bad/prompt"))).toMatchObject({ status: "rejected", param: "prompt" });
    expect(await imageRequests()).toBe(before);
    expect(await blobNames(container, "bad/")).toEqual(["bad/n.error.json", "bad/prompt.error.json", "bad/size.error.json"]);
  });

  it("does not call Azure again for a redelivered finished message", async () => {
    const message = { id: "again", prompt: "a lighthouse at dusk", n: 2, quality: "low", enqueuedAt: "2025-01-31T10:15:00.000Z" };
    await sendJson(queue, message);
    const first = await waitForRecord("again");
    const requests = await imageRequests();
    await sendJson(queue, message);
    await waitFor("the queue to drain", async () => ((await queueLength(queue)) === 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await imageRequests()).toBe(requests);
    expect(await record("again")).toEqual(first);
  });

  it("replaces an earlier output whole when a new message reuses its id with fewer images", async () => {
    await sendJson(queue, { id: "replace", prompt: "three boats", n: 3, quality: "low" });
    const first = await waitForRecord("replace");
    await sendJson(queue, { id: "replace", prompt: "one boat", n: 1, quality: "low" });
    const second = await waitFor("the new record", async () => {
      const found = await record("replace");
      return found && found.render !== first.render ? found : undefined;
    });
    expect(second.request.prompt).toBe("one boat");
    expect(await blobNames(container, "replace")).toEqual(["replace.json", "replace/1.png"]);
  });

  it("finishes everything under a 429 storm: nothing poisoned", async () => {
    const throttledBefore = (await stack.simulator.control.counters()).deployments[DEPLOYMENT]?.throttled ?? 0;
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: 429, every: 2, ms: 200 }]);
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `storm/${i}`);
      await Promise.all(ids.map((id, i) => sendJson(queue, { id, prompt: `storm picture ${i}`, n: 2, quality: "low", size: "1024x1024" })));
      for (const id of ids) expect((await waitForRecord(id, 90_000)).images).toHaveLength(2);
      expect(await queueLength(poison)).toBe(0);
      expect((await stack.simulator.control.counters()).deployments[DEPLOYMENT]!.throttled - throttledBefore).toBeGreaterThan(3);
      expect((await blobNames(container, "storm/")).filter((name) => name.endsWith(".error.json"))).toEqual([]);
    } finally {
      await stack.simulator.control.setFaults(DEPLOYMENT, []);
    }
  });
});

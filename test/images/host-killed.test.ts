/**
 * A host killed while Azure is generating a job's images: the message reappears, the restarted
 * host waits out the dead run's claim and makes the images once more, and what is left is the
 * images with the record that describes them, all from one run, with no half-written or mixed
 * output (run `npm run build` first).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ImagesRecord } from "../../src/images/images-store.js";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { startStack, type Stack } from "../support/stack.js";
import { blobNames, hostJsonWith, readBlob, readJsonBlob, sendJson, waitFor } from "../support/queue-jobs.js";

const DEPLOYMENT = "gpt-image-1";
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    hostJson: hostJsonWith({ visibilityTimeout: "00:00:01", maxPollingInterval: "00:00:00.200", maxDequeueCount: 5 }),
    simulator: { latency: NO_LATENCY, journalBodies: false },
    // A killed host's message reappears 2 s after its last renewal instead of minutes.
    host: { leaseSeconds: 2 },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

it("completes the job after a restart with one set of images, all of the record's run, and no leftovers", async () => {
  // The generation takes 1.5 s: the kill lands while Azure is making the images.
  await stack.simulator.control.setLatency(DEPLOYMENT, { requestMs: 1500, stdDevRatio: 0 });
  const container = stack.blobService.getContainerClient("images");
  await sendJson(stack.queueService.getQueueClient("images"), { id: "killed", prompt: "a harbour at dawn", quality: "low", n: 2 });
  await waitFor("the request in flight", async () =>
    ((await stack.simulator.control.counters()).deployments[DEPLOYMENT]?.requests ?? 0) >= 1 ? true : undefined,
  );
  await stack.host.kill();
  const requestsAtKill = (await stack.simulator.control.counters()).deployments[DEPLOYMENT]!.requests;
  expect(await readBlob(container, "killed.json")).toBeUndefined();
  await stack.restartHost();
  const record = await waitFor("killed.json", () => readJsonBlob<ImagesRecord>(container, "killed.json"), 90_000);
  expect(record.images.map((image) => image.name)).toEqual(["killed/1.png", "killed/2.png"]);
  // The restarted host asked once: the dead run's request is not paid twice by this run.
  expect((await stack.simulator.control.counters()).deployments[DEPLOYMENT]!.requests - requestsAtKill).toBe(1);
  for (const image of record.images) {
    const bytes = (await readBlob(container, image.name))!;
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(bytes.length).toBe(image.bytes);
    expect((await container.getBlobClient(image.name).getProperties()).metadata?.render).toBe(record.render);
  }
  // The handed-back copy's success removed the record of the wait; the claim is let go.
  await waitFor(
    "no leftovers",
    async () => {
      const names = await blobNames(container);
      return names.join() === "killed.json,killed/1.png,killed/2.png" ? names : undefined;
    },
    20_000,
  );
}, 150_000);

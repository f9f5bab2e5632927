/**
 * Speech and images turned off (their deployment settings set empty): a message is a
 * configuration failure, kept for the host's retries and then the poison queue, with a record
 * naming the setting, never dropped (run `npm run build` first).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import type { JobErrorRecord } from "../../src/queue-jobs/job-store.js";
import { startStack, type Stack } from "../support/stack.js";
import { hostJsonWith, readJsonBlob, sendJson, waitFor } from "../support/queue-jobs.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    hostJson: hostJsonWith({ visibilityTimeout: "00:00:00", maxPollingInterval: "00:00:00.200", maxDequeueCount: 2 }),
    simulator: { latency: NO_LATENCY, journalBodies: false },
    env: { AZURE_OPENAI_SPEECH_DEPLOYMENT: "", AZURE_OPENAI_IMAGES_DEPLOYMENT: "" },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

it.each([
  ["speech", { id: "off-1", input: "Hello.", voice: "alloy" }, "AZURE_OPENAI_SPEECH_DEPLOYMENT"],
  ["images", { id: "off-1", prompt: "a cat" }, "AZURE_OPENAI_IMAGES_DEPLOYMENT"],
])(
  "keeps a %s message when the pipeline is turned off: retried, then poison, with a record naming the setting",
  async (name, message, setting) => {
    const queue = stack.queueService.getQueueClient(name);
    const poison = stack.queueService.getQueueClient(`${name}-poison`);
    await sendJson(queue, message);
    const poisoned = await waitFor(`${name}-poison`, async () => (await poison.peekMessages()).peekedMessageItems[0]?.messageText, 30_000);
    expect(JSON.parse(Buffer.from(poisoned, "base64").toString("utf8"))).toEqual(message);
    const record = await readJsonBlob<JobErrorRecord>(stack.blobService.getContainerClient(name), "off-1.error.json");
    expect(record).toMatchObject({ status: "retrying", kind: "configuration", dequeueCount: 2 });
    expect(record!.reason).toContain(setting);
    expect((await stack.simulator.control.counters()).total.requests).toBe(0);
  },
);

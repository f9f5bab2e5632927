/**
 * A host killed in the middle of a long speech job: the message reappears, the restarted host
 * waits out the dead run's claim and does the job once more, and what is left is one whole audio
 * file with the record that describes it, no half-written or mixed output (run `npm run build` first).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { parseWav } from "../../src/transcription/wav.js";
import type { SpeechRecord } from "../../src/speech/speech-store.js";
import { speechParts } from "../../src/speech/render-speech.js";
import { startStack, type Stack } from "../support/stack.js";
import { blobNames, hostJsonWith, readBlob, readJsonBlob, sendJson, waitFor } from "../support/queue-jobs.js";

const DEPLOYMENT = "gpt-4o-mini-tts";
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

it("completes the job after a restart with one whole output and no leftovers", async () => {
  // 6 parts of 1.5 s each, 5 at a time: the kill lands while parts are being rendered.
  await stack.simulator.control.setLatency(DEPLOYMENT, { requestMs: 1500, stdDevRatio: 0 });
  const container = stack.blobService.getContainerClient("speech");
  const input = Array.from({ length: 420 }, (_, i) => `Sentence ${i} walks along the river bank in the evening.`).join(" ");
  await sendJson(stack.queueService.getQueueClient("speech"), { id: "killed", input, voice: "onyx", format: "wav" });
  await waitFor("the first parts in flight", async () =>
    ((await stack.simulator.control.counters()).deployments[DEPLOYMENT]?.requests ?? 0) >= 1 ? true : undefined,
  );
  await stack.host.kill();
  const requestsAtKill = (await stack.simulator.control.counters()).deployments[DEPLOYMENT]!.requests;
  expect(await readBlob(container, "killed.json")).toBeUndefined();
  await stack.restartHost();
  const record = await waitFor("killed.json", () => readJsonBlob<SpeechRecord>(container, "killed.json"), 90_000);
  const audio = (await readBlob(container, "killed.wav"))!;
  const wav = parseWav(audio);
  expect(record.parts.length).toBe(speechParts(input).length);
  // The restarted host rendered each part once: the dead run's parts are not paid twice by this run.
  expect((await stack.simulator.control.counters()).deployments[DEPLOYMENT]!.requests - requestsAtKill).toBe(record.parts.length);
  expect(wav.durationInSeconds).toBeCloseTo(record.duration!, 3);
  expect(record.bytes).toBe(audio.length);
  expect((await container.getBlobClient("killed.wav").getProperties()).metadata?.render).toBe(record.render);
  // The handed-back copy's success removed the record of the wait; the claim is let go.
  await waitFor(
    "no leftovers",
    async () => {
      const names = await blobNames(container);
      return names.join() === "killed.json,killed.wav" ? names : undefined;
    },
    20_000,
  );
}, 150_000);

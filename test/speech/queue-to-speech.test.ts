/**
 * Speech queue messages in, audio and records out, through the real app in the local Functions
 * host with Azurite and the simulator (run `npm run build` first): a short text, long texts
 * spoken in parts and joined (WAV and MP3), bad input rejected without calling Azure, a 429
 * storm, a redelivered finished message, and a host killed mid-job.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { parseMp3 } from "../../src/transcription/mp3.js";
import { parseWav } from "../../src/transcription/wav.js";
import { speechParts } from "../../src/speech/render-speech.js";
import type { SpeechRecord } from "../../src/speech/speech-store.js";
import type { JobErrorRecord } from "../../src/queue-jobs/job-store.js";
import { startStack, type Stack } from "../support/stack.js";
import { blobNames, hostJsonWith, queueLength, readBlob, readJsonBlob, sendJson, waitFor } from "../support/queue-jobs.js";

const DEPLOYMENT = "gpt-4o-mini-tts";

let stack: Stack;
let container: ContainerClient;
let queue: QueueClient;
let poison: QueueClient;

beforeAll(async () => {
  stack = await startStack({
    hostJson: hostJsonWith({ visibilityTimeout: "00:00:01", maxPollingInterval: "00:00:00.200", maxDequeueCount: 3 }),
    simulator: { latency: NO_LATENCY, journalBodies: false },
  });
  container = stack.blobService.getContainerClient("speech");
  queue = stack.queueService.getQueueClient("speech");
  poison = stack.queueService.getQueueClient("speech-poison");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function speechRequests(): Promise<number> {
  return (await stack.simulator.control.counters()).deployments[DEPLOYMENT]?.requests ?? 0;
}

const record = (id: string) => readJsonBlob<SpeechRecord>(container, `${id}.json`);
const errorRecord = (id: string) => readJsonBlob<JobErrorRecord>(container, `${id}.error.json`);
const waitForRecord = (id: string, timeoutMs = 60_000) => waitFor(`${id}.json`, () => record(id), timeoutMs);

/** Sentences of varied length, `characters` long in all. */
function longText(characters: number, seed = 0): string {
  const sentences: string[] = [];
  let length = 0;
  for (let i = seed; length < characters; i++) {
    const sentence = `Sentence ${i} tells of ${"many ".repeat(i % 7)}quiet things in the old town by the river. `;
    sentences.push(sentence);
    length += sentence.length;
  }
  return sentences
    .join("")
    .slice(0, characters)
    .replace(/\s*\S*$/, ".");
}

describe("queue -> speech through the local host", () => {
  it("speaks a short text as one MP3 with its record", async () => {
    await sendJson(queue, { id: "short/hello", input: "Hello from the speech queue. It works.", voice: "alloy" });
    const found = await waitForRecord("short/hello");
    expect(found).toMatchObject({ id: "short/hello", audio: "short/hello.mp3", voice: "alloy", format: "mp3", deployment: DEPLOYMENT });
    expect(found.characters).toBe(38);
    expect(found.parts).toHaveLength(1);
    const audio = (await readBlob(container, "short/hello.mp3"))!;
    const mp3 = parseMp3(audio);
    expect(mp3.durationInSeconds).toBeCloseTo(found.duration!, 2);
    expect(found.duration).toBeGreaterThan(1);
    expect(found.bytes).toBe(audio.length);
    expect(Date.parse(found.createdAt)).not.toBeNaN();
  });

  it("speaks a long text in parts rendered in parallel and joins them into one WAV of the summed length, parts in order", async () => {
    const input = longText(11_000);
    const expected = speechParts(input);
    expect(expected.length).toBe(3);
    await sendJson(queue, { id: "long/wav", input, voice: "nova", format: "wav", instructions: "Calm and slow." });
    const found = await waitForRecord("long/wav");
    expect(found.parts.map((part) => part.characters)).toEqual(expected.map((part) => part.length));
    expect(found.parts.map((part) => part.index)).toEqual([0, 1, 2]);
    expect(found.characters).toBe(input.length);
    const wav = parseWav((await readBlob(container, "long/wav.wav"))!);
    // One header, the data length the sum of the parts' samples.
    const partSeconds = found.parts.reduce((sum, part) => sum + part.duration!, 0);
    expect(wav.durationInSeconds).toBeCloseTo(partSeconds, 3);
    expect(found.duration).toBeCloseTo(partSeconds, 3);
    expect(wav.dataLength).toBe(Math.round(partSeconds * 24_000) * 2);
    // The simulator speaks 0.3 s per word plus pauses: each part's length follows its own text, so a
    // swapped order would show here.
    const words = expected.map((part) => part.trim().split(/\s+/).length);
    for (const [index, part] of found.parts.entries()) expect(part.duration!).toBeGreaterThan(words[index]! * 0.3);
    expect(found.instructions).toBe("Calm and slow.");
  });

  it("joins a long text's MP3 parts into one stream of their frames, with no per-part headers", async () => {
    const input = longText(9_000, 3);
    await sendJson(queue, { id: "long/mp3", input, voice: "echo" });
    const found = await waitForRecord("long/mp3");
    expect(found.parts.length).toBe(speechParts(input).length);
    expect(found.parts.length).toBeGreaterThan(1);
    const audio = (await readBlob(container, "long/mp3.mp3"))!;
    const mp3 = parseMp3(audio);
    // Every byte is an audio frame (no ID3 or Xing of a later part in the middle) and the length is the parts' sum.
    expect(Array.from(mp3.frameLengths).reduce((sum, length) => sum + length, 0)).toBe(audio.length);
    expect(mp3.durationInSeconds).toBeCloseTo(
      found.parts.reduce((sum, part) => sum + part.duration!, 0),
      3,
    );
  });

  it("rejects bad input with a record and no Azure call", async () => {
    const before = await speechRequests();
    await sendJson(queue, { id: "bad/voice", input: "Hi.", voice: "robot" });
    await sendJson(queue, { id: "bad/flac", input: longText(5_000), voice: "alloy", format: "flac" });
    await sendJson(queue, { id: "bad/empty", input: "   ", voice: "alloy" });
    await sendJson(queue, { id: "bad/field", input: "Hi.", voice: "alloy", speed: 2 });
    const voice = await waitFor("bad/voice.error.json", () => errorRecord("bad/voice"));
    expect(voice).toMatchObject({ status: "rejected", kind: "bad_input", code: "schema_violation", param: "voice" });
    expect(voice.reason).toContain("alloy");
    const flac = await waitFor("bad/flac.error.json", () => errorRecord("bad/flac"));
    expect(flac).toMatchObject({ status: "rejected", code: "format_not_joinable", param: "format" });
    expect(flac.reason).toContain("mp3, wav or pcm");
    expect(await waitFor("bad/empty.error.json", () => errorRecord("bad/empty"))).toMatchObject({ status: "rejected", param: "input" });
    expect((await waitFor("bad/field.error.json", () => errorRecord("bad/field"))).reason).toContain('"speed"');
    expect(await speechRequests()).toBe(before);
    expect(await blobNames(container, "bad/")).toEqual([
      "bad/empty.error.json",
      "bad/field.error.json",
      "bad/flac.error.json",
      "bad/voice.error.json",
    ]);
  });

  it("does not call Azure again for a redelivered finished message", async () => {
    const message = { id: "again/once", input: "Say this once. Only once.", voice: "sage", enqueuedAt: "2025-01-31T10:15:00.000Z" };
    await sendJson(queue, message);
    const first = await waitForRecord("again/once");
    const requests = await speechRequests();
    const audioEtag = (await container.getBlobClient("again/once.mp3").getProperties()).etag;
    // The same message again (a redelivery after the host failed to delete it, or a handed-back copy).
    await sendJson(queue, message);
    await waitFor("the queue to drain", async () => ((await queueLength(queue)) === 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await speechRequests()).toBe(requests);
    expect(await record("again/once")).toEqual(first);
    expect((await container.getBlobClient("again/once.mp3").getProperties()).etag).toBe(audioEtag);
  });

  it("finishes everything under a 429 storm: nothing poisoned", async () => {
    const throttledBefore = (await stack.simulator.control.counters()).deployments[DEPLOYMENT]?.throttled ?? 0;
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: 429, every: 2, ms: 200 }]);
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `storm/${i}`);
      await Promise.all(
        ids.map((id, i) =>
          sendJson(queue, { id, input: i === 0 ? longText(9_000, 5) : `Storm message ${i}. Still fine.`, voice: "coral", format: "wav" }),
        ),
      );
      for (const id of ids) expect((await waitForRecord(id, 90_000)).id).toBe(id);
      expect(await blobNames(container, "storm/")).toEqual(ids.flatMap((id) => [`${id}.json`, `${id}.wav`]).sort());
      expect(await queueLength(poison)).toBe(0);
      expect((await stack.simulator.control.counters()).deployments[DEPLOYMENT]!.throttled - throttledBefore).toBeGreaterThan(3);
    } finally {
      await stack.simulator.control.setFaults(DEPLOYMENT, []);
    }
  });
});

/**
 * A host killed in the middle of a transcription: the blob's trigger message reappears after its
 * lease and the restarted host finishes the job, resuming from the chunks the killed one finished
 * (run `npm run build` first).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { startStack, type Stack } from "../support/stack.js";
import { makeWav } from "../support/audio/wav.js";

let stack: Stack;

beforeAll(async () => {
  // Chunks of 64 KiB (about 2 s of this WAV), one at a time, so the kill lands between chunks; a
  // 6 s claim, so the redelivery takes over from the killed run without waiting a minute.
  stack = await startStack({
    simulator: { latency: NO_LATENCY },
    host: { leaseSeconds: 2 },
    env: { TRANSCRIPTION_MAX_CHUNK_BYTES: "65536", TRANSCRIPTION_MAX_CONCURRENCY: "1", TRANSCRIPTION_CLAIM_TTL_MS: "6000" },
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function readStatus(): Promise<
  { state: string; attempts: number; progress: { chunksDone: number; chunksTotal: number } } | undefined
> {
  const blob = stack.blobService.getContainerClient("transcripts").getBlobClient("interrupted.wav.status.json");
  if (!(await blob.exists())) return undefined;
  try {
    return JSON.parse((await blob.downloadToBuffer()).toString("utf8"));
  } catch {
    // Caught between a write's start and end (or a write cut off by the kill): read again next poll.
    return undefined;
  }
}

it("finishes the job on redelivery after the host is killed mid-file, without transcribing the finished chunks again", async () => {
  // 16 s of audio at a real-time factor of 0.25: each 2 s chunk takes about 0.5 s in Whisper.
  await stack.simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.25 });
  await stack.blobService
    .getContainerClient("audio")
    .getBlockBlobClient("interrupted.wav")
    .uploadData(makeWav([{ tone: 500, seconds: 16 }]));

  let status = await readStatus();
  for (
    const deadline = Date.now() + 20_000;
    !(status?.state === "running" && status.progress.chunksDone >= 4);
    status = await readStatus()
  ) {
    if (Date.now() > deadline) throw new Error(`never saw the job halfway: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await stack.host.kill();
  const atKill = await readStatus();
  expect(atKill?.state).toBe("running");
  const total = atKill!.progress.chunksTotal;
  const doneAtKill = atKill!.progress.chunksDone;
  expect(doneAtKill).toBeLessThan(total);
  const requestsAtKill = (await stack.simulator.control.counters()).deployments.whisper?.requests ?? 0;

  await stack.restartHost();
  for (const deadline = Date.now() + 40_000; status?.state !== "succeeded"; status = await readStatus()) {
    if (Date.now() > deadline || status?.state === "failed") throw new Error(`job not finished: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(status).toMatchObject({ state: "succeeded", attempts: 2, progress: { chunksDone: total, chunksTotal: total } });
  // The restarted host sent only what was not done: at most the chunks left (one may have been in flight at the kill).
  const requestsAfter = ((await stack.simulator.control.counters()).deployments.whisper?.requests ?? 0) - requestsAtKill;
  expect(requestsAfter).toBeLessThanOrEqual(total - doneAtKill);
  expect(requestsAfter).toBeGreaterThan(0);
  const json = JSON.parse(
    (await stack.blobService.getContainerClient("transcripts").getBlobClient("interrupted.wav.json").downloadToBuffer()).toString("utf8"),
  );
  expect(json.duration).toBe(16);
  expect(json.segments.at(-1).end).toBe(16);
});

/**
 * A host killed in the middle of a transcription: the blob's trigger message reappears after its
 * lease and the restarted host finishes the job (run `npm run build` first).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { startStack, type Stack } from "../support/stack.js";
import { makeWav } from "../support/audio/wav.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ simulator: { latency: NO_LATENCY }, host: { leaseSeconds: 2 } });
});

afterAll(async () => {
  await stack?.stop();
});

async function readStatus(): Promise<{ state: string; attempts: number; progress: { chunksDone: number; chunksTotal: number } } | undefined> {
  const blob = stack.blobService.getContainerClient("transcripts").getBlobClient("interrupted.wav.status.json");
  if (!(await blob.exists())) return undefined;
  try {
    return JSON.parse((await blob.downloadToBuffer()).toString("utf8"));
  } catch {
    // Caught between a write's start and end (or a write cut off by the kill): read again next poll.
    return undefined;
  }
}

it("finishes the job on redelivery after the host is killed mid-job", async () => {
  // 90 s of audio at a real-time factor of 0.05: each attempt takes about 4.5 s in Whisper.
  await stack.simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.05 });
  await stack.blobService.getContainerClient("audio").getBlockBlobClient("interrupted.wav").uploadData(makeWav([{ tone: 500, seconds: 90 }]));

  let status = await readStatus();
  for (const deadline = Date.now() + 20_000; status?.state !== "running"; status = await readStatus()) {
    if (Date.now() > deadline) throw new Error(`never saw the job running: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stack.host.kill();
  expect((await readStatus())?.state).toBe("running");

  await stack.restartHost();
  for (const deadline = Date.now() + 30_000; status?.state !== "succeeded"; status = await readStatus()) {
    if (Date.now() > deadline || status?.state === "failed") throw new Error(`job not finished: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(status).toMatchObject({ state: "succeeded", attempts: 2, progress: { chunksDone: 1, chunksTotal: 1 } });
  const json = JSON.parse((await stack.blobService.getContainerClient("transcripts").getBlobClient("interrupted.wav.json").downloadToBuffer()).toString("utf8"));
  expect(json.duration).toBe(90);
  expect(json.segments.at(-1).end).toBe(90);
});

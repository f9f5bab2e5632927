/**
 * Two runs on one audio blob at once, as two instances of the app would run them against one
 * storage account: the pipeline called directly (one call per delivery) against Azurite and the
 * simulator. An older version's run never replaces a newer version's results, the same version is
 * transcribed (and billed) once, a dead run's claim frees its version, a newer version's failure
 * leaves no older transcript beside it, and a redelivery resumes from the chunks already done.
 */
import type { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.js";
import { SOURCE_ETAG_KEY } from "../../src/transcription/blob-io.js";
import { getTranscriptionStatus } from "../../src/transcription/status-query.js";
import { readStatus, SupersededError, type TranscriptionStatus } from "../../src/transcription/status.js";
import { claimVersion } from "../../src/transcription/run-claim.js";
import { transcribeBlob, type TranscribeBlobDeps } from "../../src/transcription/transcribe-blob.js";
import { writeForVersion } from "../../src/transcription/version-writes.js";
import type { Simulator } from "../../tools/simulator/index.js";
import { startPipelineHarness, type PipelineHarness } from "./pipeline-harness.js";

let harness: PipelineHarness;
let simulator: Simulator;
let blobService: BlobServiceClient;
let audio: ContainerClient;
let transcripts: ContainerClient;
let lines: string[];

beforeAll(async () => {
  harness = await startPipelineHarness();
  ({ simulator, blobService, lines } = harness);
  audio = blobService.getContainerClient("audio");
  transcripts = blobService.getContainerClient("transcripts");
  await transcripts.createIfNotExists();
});

afterAll(async () => {
  await harness?.stop();
});

beforeEach(() => harness.reset());

/** No in-invocation retries, and a waiting delivery looks at the record every 50 ms. */
function dependencies(overrides: Partial<TranscribeBlobDeps> = {}): Promise<TranscribeBlobDeps> {
  return harness.dependencies({ retry: { transientBackoffInMs: 10, transientRetries: 0 }, claimPollInMs: 50, ...overrides });
}

function upload(name: string, seconds: number, tone = 440): Promise<{ name: string; content: Buffer; etag: string }> {
  return harness.uploadWav(name, seconds, { tone });
}

async function whisperRequests(): Promise<number> {
  return (await simulator.control.counters()).deployments.whisper?.requests ?? 0;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function outputsOf(name: string): Promise<Record<string, { sourceEtag: string | undefined; duration?: number }>> {
  const found: Record<string, { sourceEtag: string | undefined; duration?: number }> = {};
  for (const format of ["json", "txt", "srt", "vtt"]) {
    const blob = transcripts.getBlobClient(`${name}.${format}`);
    if (!(await blob.exists())) continue;
    const properties = await blob.getProperties();
    found[format] = { sourceEtag: properties.metadata?.[SOURCE_ETAG_KEY] };
    if (format === "json")
      found[format].duration = (JSON.parse((await blob.downloadToBuffer()).toString("utf8")) as { duration: number }).duration;
  }
  return found;
}

const bare = (etag: string) => etag.replace(/"/g, "");

/** A running status record for the blob's version, claimed by another run until `ms` from now. */
async function writeClaimedRecord(blob: { name: string; etag: string }, runId: string, ms: number): Promise<void> {
  const record: TranscriptionStatus = {
    name: blob.name,
    state: "running",
    source: { container: "audio", name: blob.name, etag: bare(blob.etag) },
    progress: { chunksDone: 0, chunksTotal: 1 },
    attempts: 1,
    timings: {},
    outputs: {},
    claim: { runId, expiresAt: new Date(Date.now() + ms).toISOString() },
    updatedAt: new Date().toISOString(),
  };
  const text = JSON.stringify(record);
  await transcripts.getBlockBlobClient(`${blob.name}.status.json`).upload(text, text.length);
}

describe("an overwrite while the older version is being transcribed (two instances)", () => {
  it("keeps the newer version's status and outputs when the older run finishes last; the older run stands down", async () => {
    // 60 s of audio at a real-time factor of 0.05 keeps the older run in Whisper for about 3 s.
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.05 });
    const older = await upload("race.wav", 60, 300);
    const olderRun = transcribeBlob(await dependencies(), older);
    await waitFor("the older run to be running", async () =>
      (await readStatus(transcripts, "race.wav"))?.state === "running" ? true : undefined,
    );

    const newer = await upload("race.wav", 2, 900);
    const newerOutcome = await transcribeBlob(await dependencies(), newer);
    expect(newerOutcome.state).toBe("succeeded");
    const olderOutcome = await olderRun;
    expect(olderOutcome).toMatchObject({ state: "skipped", reason: expect.stringContaining("overwritten") });

    const status = await readStatus(transcripts, "race.wav");
    expect(status).toMatchObject({ state: "succeeded", source: { etag: bare(newer.etag) } });
    expect(status?.claim).toBeUndefined();
    const outputs = await outputsOf("race.wav");
    expect(Object.keys(outputs).sort()).toEqual(["json", "srt", "txt", "vtt"]);
    for (const output of Object.values(outputs)) expect(output.sourceEtag).toBe(bare(newer.etag));
    expect(outputs.json!.duration).toBe(2);
    // What a client polling the status endpoint sees: the newer version, done (it used to say queued forever).
    const answer = await getTranscriptionStatus({ blobService, audioContainer: "audio", transcriptsContainer: "transcripts" }, "race.wav");
    expect(answer).toMatchObject({ found: true, status: { state: "succeeded", source: { etag: bare(newer.etag) } } });
  });

  it("an older version's output write loses to a newer version's output, whatever the order", async () => {
    const older = await upload("outputs.wav", 1, 300);
    const newer = await upload("outputs.wav", 1, 900);
    const blob = transcripts.getBlockBlobClient("outputs.wav.txt");
    const isCurrent = async () => bare((await audio.getBlobClient("outputs.wav").getProperties()).etag!) === bare(older.etag);
    await writeForVersion({ isCurrent: async () => true }, blob, "newer text", "text/plain", bare(newer.etag));
    const error = await writeForVersion({ isCurrent }, blob, "older text", "text/plain", bare(older.etag)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SupersededError);
    expect((await blob.downloadToBuffer()).toString()).toBe("newer text");
  });

  it("removes the older version's outputs when the newer version fails for good, so no stale transcript stands beside the failure", async () => {
    const first = await upload("replaced.wav", 2);
    expect((await transcribeBlob(await dependencies(), first)).state).toBe("succeeded");
    expect(Object.keys(await outputsOf("replaced.wav"))).toHaveLength(4);
    const broken = Buffer.from("this is not audio at all, just text uploaded by mistake");
    const response = await audio.getBlockBlobClient("replaced.wav").uploadData(broken);
    const outcome = await transcribeBlob(await dependencies(), { name: "replaced.wav", content: broken, etag: response.etag! });
    expect(outcome.state).toBe("failed");
    expect(await outputsOf("replaced.wav")).toEqual({});
    const status = await readStatus(transcripts, "replaced.wav");
    expect(status).toMatchObject({
      state: "failed",
      outputs: {},
      source: { etag: bare(response.etag!) },
      error: { kind: "bad_input", willRetry: false },
    });
  });
});

describe("the same version delivered twice at once", () => {
  it("is transcribed and billed once: the second delivery waits for the first and stands down", async () => {
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.05 });
    const blob = await upload("twice.wav", 30);
    const deps = await dependencies();
    const [first, second] = await Promise.all([transcribeBlob(deps, blob), transcribeBlob(deps, blob)]);
    const states = [first.state, second.state].sort();
    expect(states).toEqual(["skipped", "succeeded"]);
    expect(await whisperRequests()).toBe(1);
    const status = await readStatus(transcripts, "twice.wav");
    expect(status).toMatchObject({ state: "succeeded", attempts: 1 });
  });

  it("takes over from a run that died, once its claim expires, counting the attempt", async () => {
    const blob = await upload("orphan.wav", 2);
    // What a run killed mid-job leaves: its claim, no longer pushed forward.
    await writeClaimedRecord(blob, "dead-run", 600);
    const startedAt = Date.now();
    const outcome = await transcribeBlob(await dependencies(), blob);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(500);
    expect(outcome).toMatchObject({ state: "succeeded", status: { attempts: 2 } });
  });

  it("hands the delivery back, rather than take over late in its time, when the other run lets go only after half the wait", async () => {
    const blob = await upload("late.wav", 2);
    await writeClaimedRecord(blob, "slow-dead-run", 600);
    const error = await transcribeBlob(await dependencies({ claimWaitInMs: 800 }), blob).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "transient", code: "claimed_elsewhere" });
    expect(String((error as Error).message)).toContain("for a fresh start");
    expect(await whisperRequests()).toBe(0);
  });

  it("hands the delivery back to the host when another run still holds the version after the wait", async () => {
    const blob = await upload("held.wav", 2);
    await writeClaimedRecord(blob, "live-run", 60_000);
    const error = await transcribeBlob(await dependencies({ claimWaitInMs: 300 }), blob).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ kind: "transient", code: "claimed_elsewhere" });
    expect(await whisperRequests()).toBe(0);
  });
});

describe("a redelivery after a failure mid-file", () => {
  it("resumes from the chunks already done instead of transcribing them again", async () => {
    // 16 s of WAV in chunks of 64 KiB (about 2 s each), one at a time. The 5th request fails.
    const blob = await upload("resume.wav", 16);
    const deps = await dependencies({ maxChunkBytes: 64 * 1024, maxConcurrency: 1 });
    await simulator.control.setFaults("whisper", [{ kind: 500, every: 5, times: 1 }]);
    const first = await transcribeBlob(deps, blob).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(AppError);
    const afterFirst = await readStatus(transcripts, "resume.wav");
    expect(afterFirst).toMatchObject({ state: "queued", progress: { chunksDone: 4 } });
    const total = afterFirst!.progress.chunksTotal;
    expect(total).toBeGreaterThanOrEqual(8);
    expect(await whisperRequests()).toBe(5);

    const second = await transcribeBlob(deps, blob);
    expect(second.state).toBe("succeeded");
    // Only the chunks not done were sent again: 5 + (total - 4), not 5 + total.
    expect(await whisperRequests()).toBe(5 + total - 4);
    expect(lines.some((line) => line.includes(`4 of ${total} chunk(s) were finished by an earlier attempt`))).toBe(true);
    const json = JSON.parse((await transcripts.getBlobClient("resume.wav.json").downloadToBuffer()).toString("utf8")) as {
      duration: number;
      segments: { end: number }[];
    };
    expect(json.duration).toBe(16);
    expect(json.segments.at(-1)!.end).toBe(16);
    // The kept chunks are gone once the file is done.
    const left: string[] = [];
    for await (const item of transcripts.listBlobsFlat({ prefix: "resume.wav.work/" })) left.push(item.name);
    expect(left).toEqual([]);
  });
});

describe("a run's claim over time", () => {
  it("keeps its record when its own write landed but the answer was lost (the storage client retried it)", async () => {
    const blob = await upload("self.wav", 1);
    const isCurrent = async () => true;
    const claim = await claimVersion(
      { container: transcripts, now: () => new Date(), isCurrent, ttlInMs: 60_000, waitInMs: 1000, pollInMs: 50 },
      {
        name: "self.wav",
        etag: bare(blob.etag),
        runId: "run-a",
        isDone: async () => false,
        initial: () => ({
          name: "self.wav",
          state: "running",
          source: { container: "audio", name: "self.wav", etag: bare(blob.etag) },
          progress: { chunksDone: 0, chunksTotal: 1 },
          attempts: 1,
          timings: {},
          outputs: {},
          updatedAt: "",
        }),
      },
    );
    expect(claim.claimed).toBe(true);
    if (!claim.claimed) return;
    // What a lost answer leaves: the run's own record, under an ETag the run never saw.
    const record = transcripts.getBlockBlobClient("self.wav.status.json");
    const text = (await record.downloadToBuffer()).toString("utf8");
    await record.upload(text, text.length);
    await claim.reporter.update((s) => ({ ...s, progress: { chunksDone: 1, chunksTotal: 1 } }));
    expect(claim.reporter.superseded).toBeUndefined();
    expect(await readStatus(transcripts, "self.wav")).toMatchObject({ progress: { chunksDone: 1 }, claim: { runId: "run-a" } });
  });

  it("is renewed while the run works, so a duplicate delivery keeps waiting and Whisper is billed once", async () => {
    // A 1.5 s claim around a run of about 3 s: without renewals the duplicate would take over.
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.05 });
    const blob = await upload("renewed.wav", 60);
    const deps = await dependencies({ claimTtlInMs: 1500 });
    const first = transcribeBlob(deps, blob);
    await waitFor("the first run to be running", async () =>
      (await readStatus(transcripts, "renewed.wav"))?.state === "running" ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const second = await transcribeBlob(deps, blob);
    expect(second).toMatchObject({ state: "skipped" });
    expect((await first).state).toBe("succeeded");
    expect(await whisperRequests()).toBe(1);
  });

  it("stops its Whisper calls at once when its record is taken over, and writes nothing", async () => {
    // Whisper takes about 4 s for this file; the heartbeat looks every 500 ms.
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.05 });
    const blob = await upload("taken.wav", 80);
    const deps = await dependencies({ claimTtlInMs: 1500 });
    const started = Date.now();
    const run = transcribeBlob(deps, blob);
    await waitFor("the run to be running", async () =>
      (await readStatus(transcripts, "taken.wav"))?.state === "running" ? true : undefined,
    );
    await writeClaimedRecord(blob, "another-run", 60_000);
    const outcome = await run;
    expect(outcome).toMatchObject({ state: "skipped", reason: expect.stringContaining("taken over by run another-run") });
    // The heartbeat noticed long before Whisper's 4 s were over.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await outputsOf("taken.wav")).toEqual({});
    expect((await readStatus(transcripts, "taken.wav"))?.claim?.runId).toBe("another-run");
  });

  it("ends the status as failed when the audio is deleted mid-run, instead of leaving it running", async () => {
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.05 });
    const blob = await upload("deleted.wav", 40);
    const run = transcribeBlob(await dependencies(), blob);
    await waitFor("the run to be running", async () =>
      (await readStatus(transcripts, "deleted.wav"))?.state === "running" ? true : undefined,
    );
    await audio.getBlobClient("deleted.wav").delete();
    expect(await run).toMatchObject({ state: "skipped" });
    const status = await readStatus(transcripts, "deleted.wav");
    expect(status).toMatchObject({ state: "failed", error: { code: "audio_deleted", willRetry: false } });
    expect(status?.claim).toBeUndefined();
    expect(await outputsOf("deleted.wav")).toEqual({});
  });

  it("does not resume from chunks cut for another chunk size: the plan changed, so it starts afresh", async () => {
    const blob = await upload("replanned.wav", 16);
    await simulator.control.setFaults("whisper", [{ kind: 500, every: 3, times: 1 }]);
    const first = await transcribeBlob(await dependencies({ maxChunkBytes: 64 * 1024, maxConcurrency: 1 }), blob).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(AppError);
    expect(await whisperRequests()).toBe(3);
    // Settings changed between the deliveries: bigger chunks, cut elsewhere.
    const second = await transcribeBlob(await dependencies({ maxChunkBytes: 160 * 1024, maxConcurrency: 1 }), blob);
    expect(second.state).toBe("succeeded");
    const total = (await readStatus(transcripts, "replanned.wav"))!.progress.chunksTotal;
    expect(await whisperRequests()).toBe(3 + total);
    expect(lines.some((line) => line.includes("were finished by an earlier attempt"))).toBe(false);
    const json = JSON.parse((await transcripts.getBlobClient("replanned.wav.json").downloadToBuffer()).toString("utf8")) as {
      duration: number;
      segments: { end: number }[];
    };
    expect(json.segments.at(-1)!.end).toBe(16);
  });
});

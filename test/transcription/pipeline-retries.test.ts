/**
 * The pipeline's failure handling against Azurite and the simulator, called directly (no host) so
 * each delivery is one call: throttling waited out with Retry-After, transient failures handed to
 * the host and finally recorded as failed, bounded concurrency, and the `queued` status.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.js";
import { getTranscriptionStatus } from "../../src/transcription/status-query.js";
import { readStatus } from "../../src/transcription/status.js";
import { transcribeBlob, type TranscribeBlobDeps } from "../../src/transcription/transcribe-blob.js";
import type { Simulator } from "../../tools/simulator/index.js";
import { startPipelineHarness, type PipelineHarness } from "./pipeline-harness.js";

let harness: PipelineHarness;
let simulator: Simulator;
let blobService: BlobServiceClient;
let lines: string[];

beforeAll(async () => {
  harness = await startPipelineHarness();
  ({ simulator, blobService, lines } = harness);
});

afterAll(async () => {
  await harness?.stop();
});

beforeEach(() => harness.reset());

function dependencies(
  overrides: Parameters<PipelineHarness["dependencies"]>[0] = {},
  routing: Parameters<PipelineHarness["dependencies"]>[1] = {},
): Promise<TranscribeBlobDeps> {
  return harness.dependencies(overrides, routing);
}

function uploadWav(name: string, seconds: number, metadata: Record<string, string> = {}) {
  return harness.uploadWav(name, seconds, { metadata });
}

describe("throttling and transient failures", () => {
  it("waits out 429s for as long as Retry-After says, inside the invocation", async () => {
    await simulator.control.setFaults("whisper", [{ kind: 429, times: 2, ms: 400 }]);
    const blob = await uploadWav("throttled.wav", 5);
    const started = Date.now();
    const outcome = await transcribeBlob(await dependencies(), blob);
    expect(outcome.state).toBe("succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect((await simulator.control.counters()).deployments.whisper?.throttled).toBe(2);
    // The router's wait: until the backend's cooldown (Azure's 400 ms from its 429) is over.
    expect(lines.filter((l) => /retrying in (3[5-9]\d|400) ms as Retry-After asks/.test(l))).toHaveLength(2);
  });

  it("hands transient failures to the host while deliveries remain, then records failed and why", async () => {
    await simulator.control.setFaults("whisper", [{ kind: 503 }]);
    const blob = await uploadWav("unlucky.wav", 5);
    const deps = await dependencies({ maxAttempts: 2, retry: { transientRetries: 1, transientBackoffInMs: 10 } });

    const first = await transcribeBlob(deps, blob).catch((error: unknown) => error);
    expect(first).toBeInstanceOf(AppError);
    expect(first).toMatchObject({ kind: "transient", status: 503 });
    const transcripts = blobService.getContainerClient("transcripts");
    expect(await readStatus(transcripts, "unlucky.wav")).toMatchObject({
      state: "queued",
      attempts: 1,
      error: { kind: "transient", willRetry: true },
    });
    // One call plus one in-invocation retry per delivery.
    expect((await simulator.control.counters()).deployments.whisper?.requests).toBe(2);

    const last = await transcribeBlob(deps, blob);
    expect(last.state).toBe("failed");
    const status = await readStatus(transcripts, "unlucky.wav");
    expect(status).toMatchObject({ state: "failed", attempts: 2, error: { kind: "transient", willRetry: false } });
    expect(status!.error!.message).toMatch(/^Gave up after 2 attempt\(s\): Azure OpenAI failed temporarily \(503\)/);
    // A final failure promises no retry (it used to end with "; it will be retried").
    expect(status!.error!.message).not.toMatch(/retr(y|ied)/);

    // Failed for good for this ETag: a further delivery does nothing. (A model with one backend is
    // always asked, circuit or not: each delivery made its call and its retry.)
    expect(await transcribeBlob(deps, blob)).toMatchObject({ state: "skipped" });
    expect((await simulator.control.counters()).deployments.whisper?.requests).toBe(4);
  });

  it("fails at once, without retries, when Azure rejects the request itself", async () => {
    await simulator.control.setFaults("whisper", [{ kind: 400 }]);
    const blob = await uploadWav("rejected.wav", 3);
    const outcome = await transcribeBlob(await dependencies(), blob);
    expect(outcome.state).toBe("failed");
    const status = await readStatus(blobService.getContainerClient("transcripts"), "rejected.wav");
    expect(status).toMatchObject({ state: "failed", attempts: 1, error: { kind: "upstream_permanent", willRetry: false } });
    expect((await simulator.control.counters()).deployments.whisper?.requests).toBe(1);
  });

  it("keeps a blob for the host's retries while the app is set up wrong (a missing deployment), then says what to fix", async () => {
    const blob = await uploadWav("no-deployment.wav", 3);
    const deps = await dependencies({ maxAttempts: 2 }, { settings: { AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT: "whisper-missing" } });
    const first = await transcribeBlob(deps, blob).catch((error: unknown) => error);
    expect(first).toMatchObject({ kind: "configuration", status: 404 });
    const transcripts = blobService.getContainerClient("transcripts");
    expect(await readStatus(transcripts, "no-deployment.wav")).toMatchObject({
      state: "queued",
      attempts: 1,
      error: { kind: "configuration", willRetry: true },
    });
    expect(await transcribeBlob(deps, blob)).toMatchObject({ state: "failed" });
    const status = await readStatus(transcripts, "no-deployment.wav");
    expect(status).toMatchObject({ state: "failed", attempts: 2, error: { kind: "configuration", willRetry: false } });
    expect(status!.error!.message).toMatch(/^Gave up after 2 attempt\(s\): Azure OpenAI returned 404 .*AZURE_OPENAI_\*_DEPLOYMENT/);
  });
});

describe("parallel chunks", () => {
  it("keeps at most maxConcurrency chunks in flight and logs a line per chunk", async () => {
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.02 }); // 20 ms per second of audio
    const blob = await uploadWav("parallel.wav", 80); // 2.56 MB -> 8 chunks of ~10 s
    // Count requests in flight where they leave the client.
    let inFlight = 0;
    let peak = 0;
    const counting: typeof fetch = async (input, init) => {
      peak = Math.max(peak, ++inFlight);
      try {
        const response = await fetch(input, init);
        await response.clone().arrayBuffer();
        return response;
      } finally {
        inFlight--;
      }
    };
    const deps = await dependencies({ maxChunkBytes: 330_000, maxConcurrency: 3 }, { fetch: counting });
    const outcome = await transcribeBlob(deps, blob);
    expect(outcome.state).toBe("succeeded");
    expect((await simulator.control.journal()).filter((e) => e.deployment === "whisper")).toHaveLength(8);
    expect(peak).toBe(3);
    for (let i = 1; i <= 8; i++) expect(lines.some((l) => l.startsWith(`Chunk ${i}/8 of audio/parallel.wav`))).toBe(true);
  });
});

describe("status query", () => {
  it("reports an uploaded blob without a record as queued, and an unknown one as not found", async () => {
    const blob = await uploadWav("waiting.wav", 1);
    const deps = { blobService, audioContainer: "audio", transcriptsContainer: "transcripts" };
    const waiting = await getTranscriptionStatus(deps, "waiting.wav");
    expect(waiting).toMatchObject({ found: true, status: { state: "queued", source: { etag: blob.etag.replace(/"/g, "") } } });
    expect(await getTranscriptionStatus(deps, "never-uploaded.wav")).toMatchObject({ found: false });
    await expect(getTranscriptionStatus(deps, "../etc/passwd")).rejects.toMatchObject({ kind: "bad_input" });
  });
});

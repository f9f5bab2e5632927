/**
 * Blobs the host gives up on: its message on `webjobs-blobtrigger-poison` makes the status a final
 * `failed` that says why. End to end (a worker killed on the only delivery host.json allows), then
 * each case of recordGivenUp against Azurite (run `npm run build` first).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import type { Logger } from "../../src/logging.js";
import { recordGivenUp, TRANSCRIBE_FUNCTION_ID, type GivenUpDeps } from "../../src/transcription/given-up.js";
import { readStatus, type TranscriptionStatus } from "../../src/transcription/status.js";
import { startStack, type Stack } from "../support/stack.js";
import { makeWav } from "../support/audio/wav.js";

let stack: Stack;
let folder: string;

beforeAll(async () => {
  // One delivery per blob: the redelivery after a killed worker is the host's last straw.
  folder = await mkdtemp(path.join(tmpdir(), "given-up-"));
  const hostJson = JSON.parse(await readFile(path.join(REPO_ROOT, "host.json"), "utf8"));
  hostJson.extensions.blobs.poisonBlobThreshold = 1;
  await writeFile(path.join(folder, "host.json"), JSON.stringify(hostJson));
  stack = await startStack({ simulator: { latency: NO_LATENCY }, host: { leaseSeconds: 2 }, hostJson: path.join(folder, "host.json") });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await rm(folder, { recursive: true, force: true });
});

const transcripts = () => stack.blobService.getContainerClient("transcripts");
const audio = () => stack.blobService.getContainerClient("audio");
// The cases below use a container the host does not watch, so its runs cannot race them.
const UNWATCHED = "given-up-audio";
const unwatched = () => stack.blobService.getContainerClient(UNWATCHED);

async function waitForStatus(
  name: string,
  done: (status: TranscriptionStatus) => boolean,
  timeoutMs: number,
): Promise<TranscriptionStatus> {
  let status: TranscriptionStatus | undefined;
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
    // A read caught mid-write (or a write cut off by a kill) is read again next poll.
    status = await readStatus(transcripts(), name).catch(() => undefined);
    if (status && done(status)) return status;
    if (Date.now() > deadline) throw new Error(`${name}: status never got there: ${JSON.stringify(status)}`);
  }
}

it("marks a job the worker died in as failed, with the reason, once the host gives up on it", async () => {
  // 90 s of audio at a real-time factor of 0.05: the attempt takes about 4.5 s in Whisper.
  await stack.simulator.control.setLatency("whisper", { audioRealTimeFactor: 0.05 });
  await audio()
    .getBlockBlobClient("died.wav")
    .uploadData(makeWav([{ tone: 500, seconds: 90 }]));
  // Killed once the run has planned its chunk (and so is calling Whisper), not before.
  await waitForStatus("died.wav", (s) => s.state === "running" && s.progress.chunksTotal > 0, 20_000);
  await stack.host.kill();
  await stack.restartHost();

  const status = await waitForStatus("died.wav", (s) => s.state !== "running", 30_000);
  expect(status).toMatchObject({ state: "failed", attempts: 1, error: { code: "delivery_limit_reached", willRetry: false } });
  expect(status.error!.message).toMatch(
    /gave up on this file.*Attempt 1 stopped while it was running \(0 of 1 chunks done\).*timed out.*Upload the file again/,
  );
  // What a client polling for the result sees.
  const answer = (await (await fetch(`${stack.host.url}/api/transcriptions/died.wav`)).json()) as TranscriptionStatus;
  expect(answer).toMatchObject({ state: "failed", error: { code: "delivery_limit_reached", willRetry: false } });
  expect(await transcripts().getBlobClient("died.wav.json").exists()).toBe(false);
});

describe("recordGivenUp", () => {
  const lines: string[] = [];
  const logger: Logger = {
    info: (message) => lines.push(`info ${message}`),
    warn: (message) => lines.push(`warn ${message}`),
    error: (message) => lines.push(`error ${message}`),
  };
  const deps = (): GivenUpDeps => ({
    blobService: stack.blobService,
    audioContainer: UNWATCHED,
    transcriptsContainer: "transcripts",
    logger,
  });
  beforeAll(async () => {
    await unwatched().createIfNotExists();
  });
  const messageFor = async (name: string, functionId = TRANSCRIBE_FUNCTION_ID) => ({
    Type: "BlobTrigger",
    FunctionId: functionId,
    BlobType: "BlockBlob",
    ContainerName: UNWATCHED,
    BlobName: name,
    // As the host writes it: quoted.
    ETag: (await unwatched().getBlobClient(name).getProperties()).etag!,
  });
  const upload = (name: string) => unwatched().getBlockBlobClient(name).uploadData(Buffer.from("not really audio"));
  const writeStatus = async (name: string, status: Partial<TranscriptionStatus>) => {
    const etag = (await unwatched().getBlobClient(name).getProperties()).etag!.replace(/"/g, "");
    const record = {
      name,
      source: { container: UNWATCHED, name, etag },
      progress: { chunksDone: 0, chunksTotal: 0 },
      outputs: {},
      timings: {},
      updatedAt: "",
      ...status,
    };
    const text = JSON.stringify(record);
    await transcripts().getBlockBlobClient(`${name}.status.json`).upload(text, Buffer.byteLength(text));
  };

  it("keeps the last error of a job whose retries the host cut short", async () => {
    await upload("cut-short.wav");
    await writeStatus("cut-short.wav", {
      state: "queued",
      attempts: 2,
      error: {
        kind: "transient",
        code: "server_error",
        message: "Whisper answered 503",
        willRetry: true,
      },
    });
    const outcome = await recordGivenUp(deps(), await messageFor("cut-short.wav"));
    expect(outcome.recorded).toBe(true);
    const status = await readStatus(transcripts(), "cut-short.wav");
    expect(status).toMatchObject({
      state: "failed",
      attempts: 2,
      error: { kind: "transient", code: "delivery_limit_reached", willRetry: false },
    });
    expect(status!.error!.message).toContain("after 2 attempt(s). The last one failed: Whisper answered 503. Upload the file again");
  });

  it("writes a status for a blob whose deliveries all failed before one was recorded (a base64 message too)", async () => {
    await upload("never-recorded.wav");
    const text = JSON.stringify(await messageFor("never-recorded.wav"));
    const outcome = await recordGivenUp(deps(), Buffer.from(text, "utf8").toString("base64"));
    expect(outcome.recorded).toBe(true);
    const status = await readStatus(transcripts(), "never-recorded.wav");
    expect(status).toMatchObject({
      state: "failed",
      attempts: 0,
      source: { container: UNWATCHED, name: "never-recorded.wav", bytes: 16 },
      error: { willRetry: false },
    });
    expect(status!.error!.message).toContain("before any attempt could record its progress");
  });

  it("leaves a final status, an overwritten blob and a deleted one alone", async () => {
    await upload("final.wav");
    await writeStatus("final.wav", { state: "succeeded", attempts: 1 });
    expect(await recordGivenUp(deps(), await messageFor("final.wav"))).toMatchObject({
      recorded: false,
      reason: "its status is already final (succeeded)",
    });
    expect(await readStatus(transcripts(), "final.wav")).toMatchObject({ state: "succeeded" });

    await upload("overwritten.wav");
    const old = await messageFor("overwritten.wav");
    await upload("overwritten.wav");
    expect(await recordGivenUp(deps(), old)).toMatchObject({ recorded: false, reason: expect.stringContaining("overwritten since") });

    await upload("deleted.wav");
    const gone = await messageFor("deleted.wav");
    await unwatched().deleteBlob("deleted.wav");
    expect(await recordGivenUp(deps(), gone)).toMatchObject({ recorded: false, reason: "the audio blob has been deleted since" });
    for (const name of ["overwritten.wav", "deleted.wav"])
      expect(await transcripts().getBlobClient(`${name}.status.json`).exists()).toBe(false);
  });

  it("finishes the unfinished status of a blob deleted since, so nobody waits on it", async () => {
    await upload("deleted-mid-job.wav");
    await writeStatus("deleted-mid-job.wav", { state: "running", attempts: 1 });
    const message = await messageFor("deleted-mid-job.wav");
    await unwatched().deleteBlob("deleted-mid-job.wav");
    expect(await recordGivenUp(deps(), message)).toMatchObject({ recorded: true });
    expect(await readStatus(transcripts(), "deleted-mid-job.wav")).toMatchObject({
      state: "failed",
      error: {
        code: "audio_deleted",
        willRetry: false,
        message: "The audio blob was deleted before it could be transcribed. Upload it again to transcribe it.",
      },
    });
  });

  it("logs whole, and records nothing for, messages that are not about transcriptions", async () => {
    await upload("other.wav");
    const other = await messageFor("other.wav", "Host.Functions.somethingElse");
    lines.length = 0;
    expect(await recordGivenUp(deps(), other)).toMatchObject({ recorded: false });
    expect(await recordGivenUp(deps(), "plain text")).toMatchObject({ recorded: false });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^warn Removed a poison message for Host\.Functions\.somethingElse .*"BlobName":"other\.wav"/);
    expect(lines[1]).toBe('warn Removed not a blob trigger poison message: "plain text"');
    expect(await transcripts().getBlobClient("other.wav.status.json").exists()).toBe(false);
  });
});

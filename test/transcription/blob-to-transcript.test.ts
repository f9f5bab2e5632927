/**
 * Audio blob in, transcripts out, through the real app in the local Functions host with Azurite
 * and the simulator (run `npm run build` first). Audio is generated here: WAV tones and silence,
 * MP3 from a pure-JS encoder.
 */
import type { ContainerClient } from "@azure/storage-blob";
import { createHash } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalQueueName } from "../../tools/local-host/blob-trigger.js";
import { startHost } from "../../tools/local-host/index.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { startStack, type Stack } from "../support/stack.js";
import { makeMp3, makeMp3OfSize, mp3FrameCount } from "../support/audio/mp3.js";
import { makeWav, makeWavOfSize, type AudioPiece } from "../support/audio/wav.js";

interface StatusBody {
  state: string;
  attempts: number;
  progress: { chunksDone: number; chunksTotal: number };
  error?: { kind: string; code?: string; message: string; willRetry: boolean };
  source: { etag: string; format?: string; durationInSeconds?: number };
  outputs: Record<string, string>;
  links: Record<string, string>;
  usage?: { audioSeconds: number; requests: number };
}

interface TranscriptJson {
  text: string;
  language: string;
  duration: number;
  segments: Array<{ id: number; start: number; end: number; text: string }>;
  options: { task: string; formats: string[]; language?: string };
  usage: { audioSeconds: number; requests: number; model: string; backends: string[] };
  source: { format: string; chunks: number };
}

const SPEECH_AND_PAUSES: AudioPiece[] = [{ tone: 440, seconds: 20 }, { silence: 2 }, { tone: 660, seconds: 15 }, { silence: 3 }];

let stack: Stack;
let audio: ContainerClient;
let transcripts: ContainerClient;

beforeAll(async () => {
  stack = await startStack({ env: { HTTP_AUTH_LEVEL: "anonymous" }, simulator: { latency: NO_LATENCY } });
  audio = stack.blobService.getContainerClient("audio");
  transcripts = stack.blobService.getContainerClient("transcripts");
});

afterAll(async () => {
  await stack?.stop();
});

async function upload(name: string, bytes: Uint8Array, metadata: Record<string, string> = {}): Promise<string> {
  const response = await audio.getBlockBlobClient(name).uploadData(bytes, { metadata, blockSize: 8 * 1024 * 1024, concurrency: 4 });
  return response.etag!.replace(/"/g, "");
}

async function getStatus(name: string): Promise<{ status: number; body: StatusBody }> {
  const response = await fetch(`${stack.host.url}/api/transcriptions/${name}`);
  return { status: response.status, body: (await response.json()) as StatusBody };
}

/** Polls the status endpoint until the file reaches a final state. */
async function waitForFinal(name: string, timeoutMs = 45_000): Promise<StatusBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await getStatus(name);
    if (status === 200 && (body.state === "succeeded" || body.state === "failed")) return body;
    if (Date.now() > deadline) throw new Error(`${name} did not finish in ${timeoutMs} ms; last status ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function readOutput(blobName: string): Promise<string> {
  return (await transcripts.getBlobClient(blobName).downloadToBuffer()).toString("utf8");
}

async function whisperRequests(): Promise<number> {
  return (await stack.simulator.control.counters()).deployments.whisper?.requests ?? 0;
}

/** Segments strictly ordered, starting at 0, without gaps, ending at the recording's known length. */
function expectCoverage(segments: TranscriptJson["segments"], duration: number): void {
  expect(segments.length).toBeGreaterThan(0);
  expect(segments[0]!.start).toBe(0);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    expect(s.id).toBe(i);
    expect(s.end).toBeGreaterThan(s.start);
    if (i > 0) {
      expect(s.start).toBeGreaterThanOrEqual(segments[i - 1]!.end);
      // The simulator's segments tile each chunk, so stitched ones must tile the file.
      expect(s.start - segments[i - 1]!.end).toBeLessThan(0.002);
    }
  }
  expect(Math.abs(segments.at(-1)!.end - duration)).toBeLessThan(0.002);
}

async function expectSourceIntact(name: string, etag: string, bytes: Uint8Array): Promise<void> {
  const properties = await audio.getBlobClient(name).getProperties();
  expect(properties.etag!.replace(/"/g, "")).toBe(etag);
  const stored = await audio.getBlobClient(name).downloadToBuffer();
  expect(createHash("sha256").update(stored).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
}

it("registers the blob trigger the infra's Event Grid subscription targets", () => {
  expect(stack.host.functions.find((f) => f.name === "transcribeAudio")).toMatchObject({
    trigger: "blob",
    path: "audio/{name}",
    source: "LogsAndContainerScan",
  });
});

it("finds the status of a blob whose name holds a percent sign: the route decodes its parameter once", async () => {
  // Blob "percent%41.wav": its URL path segment is percent%2541.wav; decoded twice it became percentA.wav (404).
  await upload("percent%41.wav", makeWav([{ tone: 440, seconds: 2 }]));
  const status = await waitForFinal(encodeURIComponent("percent%41.wav"));
  expect(status.state).toBe("succeeded");
  expect(status.outputs.json).toContain("percent%41.wav.json");
});

describe("small files, every output format", () => {
  it("transcribes a WAV into json, txt, srt and vtt", async () => {
    const wav = makeWav(SPEECH_AND_PAUSES);
    const etag = await upload("small/meeting.wav", wav, { language: "en", prompt: "Contoso%20standup", temperature: "0.2" });
    const status = await waitForFinal("small/meeting.wav");
    expect(status).toMatchObject({
      state: "succeeded",
      attempts: 1,
      progress: { chunksDone: 1, chunksTotal: 1 },
      source: { etag, format: "wav" },
    });
    expect(Object.keys(status.outputs).sort()).toEqual(["json", "srt", "txt", "vtt"]);
    expect(status.links.vtt).toContain("/transcripts/small/meeting.wav.vtt");

    const json = JSON.parse(await readOutput("small/meeting.wav.json")) as TranscriptJson;
    expect(json.duration).toBe(40);
    expect(json.language).toBe("english");
    expect(json.options).toMatchObject({ task: "transcribe", language: "en", prompt: "Contoso standup", temperature: 0.2 });
    expect(json.usage).toEqual({
      audioSeconds: 40,
      requests: 1,
      model: "whisper",
      backends: [`127:${new URL(stack.simulator.url).port}/whisper`],
    });
    expectCoverage(json.segments, 40);
    expect(await readOutput("small/meeting.wav.txt")).toBe(`${json.text}\n`);

    const srt = await readOutput("small/meeting.wav.srt");
    const firstCue = json.segments[0]!;
    expect(srt.startsWith(`1\n00:00:00,000 --> ${srtTime(firstCue.end)}\n${firstCue.text}\n\n2\n`)).toBe(true);
    expect(srt.match(/ --> /g)).toHaveLength(json.segments.length);
    const vtt = await readOutput("small/meeting.wav.vtt");
    expect(vtt.startsWith(`WEBVTT\n\n00:00:00.000 --> ${srtTime(firstCue.end).replace(",", ".")}\n${firstCue.text}\n`)).toBe(true);
    expect(vtt.match(/ --> /g)).toHaveLength(json.segments.length);

    const outputProperties = await transcripts.getBlobClient("small/meeting.wav.srt").getProperties();
    expect(outputProperties.contentType).toContain("application/x-subrip");
    await expectSourceIntact("small/meeting.wav", etag, wav);
  });

  it("transcribes an MP3 named without an extension, into the requested formats only", async () => {
    const mp3 = makeMp3(SPEECH_AND_PAUSES);
    const { frames, samplesPerFrame, sampleRate } = mp3FrameCount(mp3);
    await upload("podcast-episode", mp3, { formats: "srt, json" });
    const status = await waitForFinal("podcast-episode");
    expect(status).toMatchObject({ state: "succeeded", source: { format: "mp3" } });
    expect(status.outputs).toEqual({ json: "podcast-episode.json", srt: "podcast-episode.srt" });
    const json = JSON.parse(await readOutput("podcast-episode.json")) as TranscriptJson;
    const duration = (frames * samplesPerFrame) / sampleRate;
    expect(json.duration).toBeCloseTo(duration, 3);
    expectCoverage(json.segments, json.duration);
    expect(await transcripts.getBlobClient("podcast-episode.txt").exists()).toBe(false);
  });

  it("translates into English through audio/translations", async () => {
    const before = (await stack.simulator.control.journal()).length;
    await upload("interview-de.wav", makeWav([{ tone: 300, seconds: 12 }]), { task: "translate" });
    const status = await waitForFinal("interview-de.wav");
    expect(status.state).toBe("succeeded");
    const json = JSON.parse(await readOutput("interview-de.wav.json")) as TranscriptJson;
    expect(json.options.task).toBe("translate");
    expect(json.language).toBe("english");
    const paths = (await stack.simulator.control.journal()).slice(before).map((e) => e.path);
    expect(paths.some((p) => p.includes("audio/translations"))).toBe(true);
    expect(paths.some((p) => p.includes("audio/transcriptions"))).toBe(false);
  });
});

describe("files over 25 MB", () => {
  it("splits a WAV into chunks under the limit and stitches them over the whole duration", async () => {
    const { bytes, durationInSeconds } = makeWavOfSize(SPEECH_AND_PAUSES, 26_500_000);
    const etag = await upload("long/all-hands.wav", bytes);
    const status = await waitForFinal("long/all-hands.wav");
    expect(status.state).toBe("succeeded");
    expect(status.progress.chunksTotal).toBeGreaterThanOrEqual(2);
    expect(status.progress.chunksDone).toBe(status.progress.chunksTotal);
    const json = JSON.parse(await readOutput("long/all-hands.wav.json")) as TranscriptJson;
    expect(json.duration).toBeCloseTo(durationInSeconds, 3);
    expect(json.source.chunks).toBe(status.progress.chunksTotal);
    expect(json.usage.requests).toBe(status.progress.chunksTotal);
    expectCoverage(json.segments, durationInSeconds);
    // No upload hit Azure's 413.
    expect((await stack.simulator.control.counters()).deployments.whisper?.statuses["413"] ?? 0).toBe(0);
    await expectSourceIntact("long/all-hands.wav", etag, bytes);
  });

  it("splits an MP3 at frame boundaries and stitches it over the whole duration", async () => {
    const { bytes, durationInSeconds } = makeMp3OfSize(SPEECH_AND_PAUSES, 26_000_000, { sampleRate: 16000, kbps: 64 });
    await upload("long/podcast.mp3", bytes);
    const status = await waitForFinal("long/podcast.mp3");
    expect(status.state).toBe("succeeded");
    expect(status.progress.chunksTotal).toBeGreaterThanOrEqual(2);
    const json = JSON.parse(await readOutput("long/podcast.mp3.json")) as TranscriptJson;
    expect(json.duration).toBeCloseTo(durationInSeconds, 3);
    expectCoverage(json.segments, durationInSeconds);
  });
});

describe("inputs that cannot be transcribed", () => {
  const wav = makeWav([{ tone: 440, seconds: 3 }]);
  const oversizeOgg = Buffer.alloc(25_100_000);
  oversizeOgg.write("OggS");
  // An MPEG program stream: accepted by Whisper, split by nothing here.
  const oversizeMpeg = Buffer.alloc(25_100_000);
  oversizeMpeg.set([0, 0, 1, 0xba]);
  const cases: Array<{ name: string; bytes: Uint8Array; metadata?: Record<string, string>; code: string; mentions: string[] }> = [
    { name: "bad/empty.wav", bytes: Buffer.alloc(0), code: "empty_audio", mentions: ["empty"] },
    { name: "bad/truncated.wav", bytes: wav.subarray(0, 20_000), code: "truncated_audio", mentions: ["truncated", "declares"] },
    {
      name: "bad/notes.mp3",
      bytes: Buffer.from("Meeting notes: nothing to hear here.\n".repeat(50)),
      code: "unsupported_audio",
      mentions: ["text", "flac, mp3"],
    },
    { name: "bad/huge.mpeg", bytes: oversizeMpeg, code: "audio_too_large", mentions: ["25.1 MB", "25.0 MB", "WAV (PCM), MP3, FLAC, OGG"] },
    // Over the limit, so read to be split: its pages are zeros.
    { name: "bad/huge.ogg", bytes: oversizeOgg, code: "corrupt_audio", mentions: ["Ogg file is corrupt"] },
    {
      name: "bad/options.wav",
      bytes: wav,
      metadata: { language: "english", temperature: "2", formats: "pdf" },
      code: "invalid_options",
      mentions: ["language", "temperature", "formats"],
    },
  ];

  it("records a failed status with the specific reason, calls no model, and leaves the source intact", async () => {
    const requestsBefore = await whisperRequests();
    const etags = await Promise.all(cases.map((c) => upload(c.name, c.bytes, c.metadata)));
    for (const [i, c] of cases.entries()) {
      const status = await waitForFinal(c.name);
      expect(status.state, c.name).toBe("failed");
      expect(status.attempts, c.name).toBe(1);
      expect(status.error, c.name).toMatchObject({ kind: "bad_input", code: c.code, willRetry: false });
      for (const text of c.mentions) expect(status.error!.message, c.name).toContain(text);
      await expectSourceIntact(c.name, etags[i]!, c.bytes);
    }
    expect(await whisperRequests()).toBe(requestsBefore);
  });
});

describe("redelivery and the status endpoint", () => {
  it("skips a blob whose outputs exist for its ETag, and a rerun rewrites the same content", async () => {
    const etag = await upload("again.wav", makeWav(SPEECH_AND_PAUSES));
    await waitForFinal("again.wav");
    const outputs = ["json", "txt", "srt", "vtt"].map((f) => `again.wav.${f}`);
    const first = await Promise.all(outputs.map(readOutput));
    const modified = await Promise.all(
      outputs.map(async (o) => (await transcripts.getBlobClient(o).getProperties()).lastModified!.getTime()),
    );
    const requests = await whisperRequests();

    // A second host with its own receipts sees the blob as new: the delivery the app must absorb.
    const second = await startOtherHost("second-host");
    try {
      // The host completes its receipt (drops the "Incomplete" key) once it has queued the blob, as
      // the WebJobs SDK does, and deletes the queued message once the function has run.
      const receipt = stack.blobService
        .getContainerClient("azure-webjobs-hosts")
        .getBlobClient(`blobreceipts/second-host/Host.Functions.transcribeAudio/"${etag.replace(/"/g, "")}"/audio/again.wav`);
      const queued = stack.queueService.getQueueClient(internalQueueName("second-host"));
      await waitUntil(async () => {
        const properties = await receipt.getProperties().catch(() => undefined);
        if (!properties || Object.keys(properties.metadata ?? {}).some((key) => key.toLowerCase() === "incomplete")) return false;
        return (await queued.getProperties()).approximateMessagesCount === 0;
      });
      expect(await whisperRequests()).toBe(requests);
      const after = await Promise.all(
        outputs.map(async (o) => (await transcripts.getBlobClient(o).getProperties()).lastModified!.getTime()),
      );
      expect(after).toEqual(modified);
    } finally {
      await second.stop();
    }

    // Without the status record, a redelivery transcribes again and writes identical outputs.
    await transcripts.getBlobClient("again.wav.status.json").delete();
    const third = await startOtherHost("third-host");
    try {
      const status = await waitForFinal("again.wav");
      expect(status.state).toBe("succeeded");
      expect(await whisperRequests()).toBeGreaterThan(requests);
      expect(await Promise.all(outputs.map(readOutput))).toEqual(first);
    } finally {
      await third.stop();
    }
  });

  it("reports an overwritten blob as its new version, never as the old version's result", async () => {
    const oldEtag = await upload("replaced.wav", makeWav([{ tone: 440, seconds: 4 }]));
    expect((await waitForFinal("replaced.wav")).source.etag).toBe(oldEtag);
    const newEtag = await upload("replaced.wav", makeWav([{ tone: 440, seconds: 7 }, { silence: 1 }]));
    // Whether or not the trigger has picked it up yet, the answer is about the new bytes.
    expect((await getStatus("replaced.wav")).body.source.etag).toBe(newEtag);
    const final = await waitForFinal("replaced.wav");
    expect(final).toMatchObject({ state: "succeeded", source: { etag: newEtag, durationInSeconds: 8 } });
  });

  it("answers 404 for an unknown file and links the outputs of a finished one", async () => {
    const missing = await getStatus("nothing-here.wav");
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain("audio container");
    const done = await getStatus("small/meeting.wav");
    expect(done.status).toBe(200);
    const linked = await fetch(done.body.links.json!.replace(/^http:\/\/[^/]+\/[^/]+/, stack.azurite.blobUrl), { method: "HEAD" });
    expect([200, 401, 403]).toContain(linked.status); // the blob exists; Azurite wants a key to read it
    expect(Object.keys(done.body.links).sort()).toEqual(["json", "source", "srt", "status", "txt", "vtt"]);
  });
});

function startOtherHost(hostId: string) {
  return startHost({
    entry: path.join(REPO_ROOT, "dist/src/index.js"),
    cwd: REPO_ROOT,
    port: 0,
    env: stack.settings,
    isolateEnv: true,
    blobScanIntervalMs: 200,
    hostId,
  });
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function srtTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor((ms % 3_600_000) / 60_000))}:${pad(Math.floor((ms % 60_000) / 1000))},${pad(ms % 1000, 3)}`;
}

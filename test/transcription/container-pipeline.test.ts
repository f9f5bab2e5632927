/**
 * Container files over the upload limit through the blob pipeline (transcribeBlob against Azurite
 * and the simulator over HTTP): an M4A (AAC, overlapping chunks) and a FLAC (cuts in pauses) give
 * the transcript Whisper gives for the whole file, with no word at a seam lost or repeated; corrupt,
 * truncated and unsupported files end `failed` with the reason, without a model call and with the source intact.
 * Speech is made here (test/support/audio/speech.ts); skipped, naming the missing tool, without
 * the tools, and mandatory in CI (SPEECH_TOOLS_REQUIRED=1).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { AzureOpenAI, toFile } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readStatus } from "../../src/transcription/status.js";
import { transcribeBlob } from "../../src/transcription/transcribe-blob.js";
import {
  encodeSpeech,
  missingSpeechTools,
  removeSpeechFixtures,
  skipReason,
  videoOnlyMp4,
  type SpeechFormat,
} from "../../bench/fixtures/speech.js";
import { startPipelineHarness, type PipelineHarness } from "./pipeline-harness.js";

const missing = missingSpeechTools();
let harness: PipelineHarness;

beforeAll(async () => {
  if (missing.length === 0) harness = await startPipelineHarness();
});
afterAll(async () => {
  await harness?.stop();
  removeSpeechFixtures();
});
beforeEach(async () => {
  if (harness) await harness.reset();
});

interface TranscriptJson {
  text: string;
  duration: number;
  segments: { id: number; start: number; end: number; text: string }[];
  source: { format: string; chunks: number };
  usage: { requests: number };
}

async function upload(name: string, bytes: Uint8Array, metadata: Record<string, string> = {}) {
  const response = await harness.blobService
    .getContainerClient("audio")
    .getBlockBlobClient(name)
    .uploadData(bytes, { blockSize: 8 * 1024 * 1024, concurrency: 4, metadata });
  return { name, content: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), etag: response.etag! };
}

async function transcriptOf(name: string): Promise<TranscriptJson> {
  const body = await harness.blobService.getContainerClient("transcripts").getBlobClient(`${name}.json`).downloadToBuffer();
  return JSON.parse(body.toString("utf8")) as TranscriptJson;
}

/** What the simulator's Whisper says for the whole file in one request, through the openai client. */
async function wholeFileTranscript(bytes: Uint8Array, fileName: string) {
  const client = new AzureOpenAI({
    endpoint: harness.simulator.url,
    apiKey: harness.simulator.apiKey,
    apiVersion: "2024-10-21",
    maxRetries: 0,
  });
  return client.audio.transcriptions.create({
    model: "whisper",
    file: await toFile(bytes, fileName),
    response_format: "verbose_json",
    timestamp_granularities: ["segment"],
  });
}

describe.skipIf(missing.length > 0)(
  missing.length > 0 ? `container files through the pipeline: ${skipReason(missing)}` : "container files through the pipeline",
  () => {
    it.each([
      { speech: "m4a" as SpeechFormat, name: "calls/standup.m4a" },
      { speech: "flac" as SpeechFormat, name: "calls/standup.flac" },
    ])(
      "$speech over the limit: chunks under it, stitched to the whole file's transcript",
      async ({ speech, name }) => {
        const bytes = readFileSync(encodeSpeech(speech, 60));
        const blob = await upload(name, bytes);
        const maxChunkBytes = Math.ceil(bytes.byteLength / 3);
        const outcome = await transcribeBlob(await harness.dependencies({ maxChunkBytes }), blob);
        expect(outcome.state).toBe("succeeded");
        const json = await transcriptOf(name);
        expect(json.source.chunks).toBeGreaterThanOrEqual(3);
        expect(json.usage.requests).toBe(json.source.chunks);
        const whole = await wholeFileTranscript(bytes, name.split("/").pop()!);
        expect(json.text).toBe(whole.text);
        expect(json.duration).toBeCloseTo(whole.duration, 1);
        // Segment times follow the recording: each within 50 ms of the whole file's same words.
        const reference = whole.segments!;
        const joined = (segments: { text: string }[]) => segments.map((s) => s.text.trim()).join(" ");
        expect(joined(json.segments)).toBe(joined(reference));
        for (const segment of json.segments) {
          const match = reference.find(
            (r) => Math.abs(r.start - segment.start) < 0.05 || (segment.start > r.start && segment.start < r.end),
          );
          expect(match, `segment at ${segment.start}`).toBeDefined();
        }
        const counters = await harness.simulator.control.counters();
        expect(counters.deployments.whisper?.statuses["413"] ?? 0).toBe(0);
      },
      60_000,
    );

    it("gives a text-only model's subtitles real times: an M4A cut into overlapping pieces of at most 30 s, one cue each", async () => {
      const bytes = readFileSync(encodeSpeech("m4a", 75));
      const blob = await upload("calls/pieces.m4a", bytes, { formats: "json,srt" });
      const deps = await harness.dependencies({}, { settings: { AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT: "gpt-4o-transcribe" } });
      const outcome = await transcribeBlob(deps, blob);
      expect(outcome.state).toBe("succeeded");
      const json = await transcriptOf("calls/pieces.m4a");
      expect(json.source.chunks).toBeGreaterThanOrEqual(3);
      expect(json.duration).toBeGreaterThan(74);
      for (const segment of json.segments) expect(segment.end - segment.start).toBeLessThanOrEqual(30.05);
      expect(json.segments.at(-1)!.end).toBeCloseTo(json.duration, 0);
      const srt = (
        await harness.blobService.getContainerClient("transcripts").getBlobClient("calls/pieces.m4a.srt").downloadToBuffer()
      ).toString("utf8");
      expect(srt.match(/ --> /g)).toHaveLength(json.segments.length);
      const sent = await harness.simulator.control.journal();
      expect(sent.filter((entry) => entry.deployment === "gpt-4o-transcribe" && entry.status === 200)).toHaveLength(json.source.chunks);
    }, 60_000);

    it("records a failed status with the reason for corrupt, truncated and unsupported files, calls no model, and leaves the source intact", async () => {
      const m4a = readFileSync(encodeSpeech("m4a", 12));
      const flac = readFileSync(encodeSpeech("flac", 12));
      const opus = readFileSync(encodeSpeech("ogg-opus", 12));
      const webm = readFileSync(encodeSpeech("webm", 12));
      const cases = [
        // ffmpeg writes the sample index (moov) last: a cut-off upload has none.
        {
          name: "bad/cut-off.m4a",
          bytes: m4a.subarray(0, Math.floor(m4a.byteLength * 0.6)),
          code: "truncated_audio",
          mentions: ["M4A", "truncated", "moov"],
        },
        {
          name: "bad/cut-off.flac",
          bytes: flac.subarray(0, Math.floor(flac.byteLength * 0.6)),
          code: "truncated_audio",
          mentions: ["FLAC", "truncated", "announces"],
        },
        {
          name: "bad/cut-off.opus",
          bytes: opus.subarray(0, Math.floor(opus.byteLength * 0.6) + 7),
          code: "truncated_audio",
          mentions: ["Ogg", "truncated", "page"],
        },
        {
          name: "bad/cut-off.webm",
          bytes: webm.subarray(0, Math.floor(webm.byteLength * 0.6)),
          code: "truncated_audio",
          mentions: ["WebM", "truncated", "announces"],
        },
        {
          name: "bad/scrambled.flac",
          bytes: Buffer.concat([flac.subarray(0, 4), Buffer.alloc(flac.byteLength - 4, 0x5a)]),
          code: "corrupt_audio",
          mentions: ["FLAC", "corrupt"],
        },
        { name: "bad/video-only.mp4", bytes: videoOnlyMp4(8), code: "corrupt_audio", mentions: ["MP4", "no audio track"] },
        {
          name: "bad/apple-lossless.m4a",
          bytes: readFileSync(encodeSpeech("m4a-alac", 12)),
          code: "unsupported_audio",
          mentions: ["M4A", "codec", "aac"],
        },
      ];
      const deps = await harness.dependencies({ maxChunkBytes: 20_000 });
      for (const c of cases) {
        const blob = await upload(c.name, c.bytes);
        const outcome = await transcribeBlob(deps, blob);
        expect(outcome.state, c.name).toBe("failed");
        const status = await readStatus(harness.blobService.getContainerClient("transcripts"), c.name);
        expect(status!.error, c.name).toMatchObject({ kind: "bad_input", code: c.code, willRetry: false });
        for (const text of c.mentions) expect(status!.error!.message, c.name).toContain(text);
        const stored = await harness.blobService.getContainerClient("audio").getBlobClient(c.name).downloadToBuffer();
        expect(createHash("sha256").update(stored).digest("hex"), c.name).toBe(createHash("sha256").update(c.bytes).digest("hex"));
      }
      expect((await harness.simulator.control.counters()).deployments.whisper?.requests ?? 0).toBe(0);
    }, 60_000);
  },
);

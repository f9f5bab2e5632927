/**
 * The gpt-4o transcribe models beside Whisper, through the real app in the local host (run `npm
 * run build` first) against Azurite and the simulator's three gpt-4o deployments, named by blob
 * metadata `model` as AZURE_OPENAI_TRANSCRIPTION_MODELS lists them: json/txt/srt/vtt from every
 * model with real cue times, speaker labels kept across the chunks of a long file, Whisper's word
 * times offset across chunks, and options a model cannot honour refused with the reason.
 */
import type { ContainerClient } from "@azure/storage-blob";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { JournalEntry } from "../../tools/simulator/context.js";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { startStack, type Stack } from "../support/stack.js";
import { makeWav, type AudioPiece } from "../support/audio/wav.js";

/** 16 kHz mono WAV: 32 kB a second, so 1 MB chunks are ~32 s (Whisper) and ~16 s (the diarizing model, which leaves room for reference clips). */
const MAX_CHUNK_BYTES = 1_000_000;

interface TranscriptJson {
  text: string;
  duration: number;
  segments: Array<{ id: number; start: number; end: number; text: string; speaker?: string }>;
  speakers?: string[];
  words?: Array<{ word: string; start: number; end: number }>;
  options: Record<string, unknown>;
  usage: { audioSeconds: number; requests: number; model: string };
  source: { chunks: number };
}

interface StatusBody {
  state: string;
  error?: { kind: string; code?: string; message: string; willRetry: boolean; details?: { problems?: string[] } };
}

let stack: Stack;
let audio: ContainerClient;
let transcripts: ContainerClient;

beforeAll(async () => {
  stack = await startStack({
    env: {
      HTTP_AUTH_LEVEL: "anonymous",
      TRANSCRIPTION_MAX_CHUNK_BYTES: String(MAX_CHUNK_BYTES),
      AZURE_OPENAI_TRANSCRIPTION_MODELS: "gpt-4o-transcribe, gpt-4o-mini-transcribe,gpt-4o-transcribe-diarize",
    },
    simulator: { latency: NO_LATENCY },
  });
  audio = stack.blobService.getContainerClient("audio");
  transcripts = stack.blobService.getContainerClient("transcripts");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

let testStarted = "";
beforeEach(() => {
  testStarted = new Date().toISOString();
});

/**
 * The transcription requests for one deployment that arrived since the test began (by arrival
 * time: the journal lists a request when it closes, so an earlier test's last request may be
 * listed after this test began).
 */
async function requests(deployment: string): Promise<JournalEntry[]> {
  return (await stack.simulator.control.journal()).filter((e) => e.time >= testStarted && e.deployment === deployment && e.status !== 0);
}

async function transcribe(name: string, pattern: readonly AudioPiece[], metadata: Record<string, string>): Promise<StatusBody> {
  await audio.getBlockBlobClient(name).uploadData(makeWav(pattern), { metadata });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${stack.host.url}/api/transcriptions/${name}`);
    const body = (await response.json()) as StatusBody;
    if (response.status === 200 && (body.state === "succeeded" || body.state === "failed")) return body;
    if (Date.now() > deadline) throw new Error(`${name} did not finish; last status ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function output(name: string, format: string): Promise<string> {
  return (await transcripts.getBlobClient(`${name}.${format}`).downloadToBuffer()).toString("utf8");
}

/** SRT/VTT cue times, in seconds. */
function cueTimes(subtitles: string): Array<[number, number]> {
  const seconds = (t: string) => {
    const [h, m, s] = t.replace(",", ".").split(":");
    return Number(h) * 3600 + Number(m) * 60 + Number(s);
  };
  return [...subtitles.matchAll(/(\d\d:\d\d:\d\d[.,]\d{3}) --> (\d\d:\d\d:\d\d[.,]\d{3})/g)].map((m) => [seconds(m[1]!), seconds(m[2]!)]);
}

// 64 s: sound, a pause at 24-25 s, sound, a pause at 45-46 s, sound.
const TALK: AudioPiece[] = [
  { tone: 300, seconds: 24 },
  { silence: 1 },
  { tone: 500, seconds: 20 },
  { silence: 1 },
  { tone: 300, seconds: 18 },
];

describe("gpt-4o-transcribe and gpt-4o-mini-transcribe (text only)", () => {
  it("time every cue by the <= 30 s piece it was transcribed from, cut in the pauses", async () => {
    const status = await transcribe("talk-4o.wav", TALK, { model: "gpt-4o-transcribe" });
    expect(status).toMatchObject({ state: "succeeded" });
    const json = JSON.parse(await output("talk-4o.wav", "json")) as TranscriptJson;
    expect(json.usage).toMatchObject({ model: "gpt-4o-transcribe", requests: 3 });
    expect(json.duration).toBe(64);
    const times = json.segments.map((s) => [s.start, s.end]);
    expect(times).toHaveLength(3);
    // Contiguous, from 0 to the end, each at most 30 s, the cuts inside the pauses.
    expect(times[0]![0]).toBe(0);
    expect(times[2]![1]).toBe(64);
    expect(times[1]![0]).toBe(times[0]![1]);
    expect(times[2]![0]).toBe(times[1]![1]);
    for (const [start, end] of times) expect(end! - start!).toBeLessThanOrEqual(30);
    expect(times[1]![0]).toBeGreaterThan(24);
    expect(times[1]![0]).toBeLessThan(25);
    expect(times[2]![0]).toBeGreaterThan(45);
    expect(times[2]![0]).toBeLessThan(46);
    // Every format, the subtitles with the same cues.
    expect(cueTimes(await output("talk-4o.wav", "srt"))).toEqual(times);
    expect(cueTimes(await output("talk-4o.wav", "vtt"))).toEqual(times);
    expect((await output("talk-4o.wav", "txt")).trim()).toBe(json.text);
    // Asked as Azure allows the model: json, no timestamp granularities.
    const sent = await requests("gpt-4o-transcribe");
    expect(sent).toHaveLength(3);
    for (const entry of sent) {
      expect(entry.body).toMatchObject({ response_format: "json" });
      expect(entry.body).not.toHaveProperty("timestamp_granularities[]");
    }
  });

  it("takes a prompt on gpt-4o-mini-transcribe and refuses word times", async () => {
    const ok = await transcribe("mini.wav", [{ tone: 300, seconds: 12 }], {
      model: "gpt-4o-mini-transcribe",
      prompt: "Contoso",
      formats: "json,srt",
    });
    expect(ok).toMatchObject({ state: "succeeded" });
    expect(cueTimes(await output("mini.wav", "srt"))).toEqual([[0, 12]]);
    expect((await requests("gpt-4o-mini-transcribe"))[0]!.body).toMatchObject({ response_format: "json", prompt: "Contoso" });

    const refused = await transcribe("mini-words.wav", [{ tone: 300, seconds: 3 }], { model: "gpt-4o-mini-transcribe", words: "true" });
    expect(refused.error).toMatchObject({ kind: "bad_input", code: "invalid_options", willRetry: false });
    expect(refused.error!.message).toMatch(/gives no word times \(only Whisper does\)/);
  });
});

describe("gpt-4o-transcribe-diarize (speakers)", () => {
  // Two voices (tones of 220 Hz and 440 Hz to the simulator's ear) taking turns over ~47 s: three chunks.
  const ANA = 220;
  const BEN = 440;
  const MEETING: AudioPiece[] = [
    { tone: ANA, seconds: 8 },
    { silence: 1 },
    { tone: BEN, seconds: 6 },
    { silence: 1 },
    { tone: ANA, seconds: 5 },
    { silence: 1 },
    { tone: BEN, seconds: 7 },
    { silence: 1 },
    { tone: ANA, seconds: 6 },
    { silence: 1 },
    { tone: BEN, seconds: 5 },
    { silence: 1 },
    { tone: ANA, seconds: 4 },
  ];
  /** The voice speaking at `time` in MEETING. */
  const voiceAt = (time: number) => {
    let position = 0;
    for (const piece of MEETING) {
      const length = "tone" in piece ? piece.seconds : piece.silence;
      if (time < position + length) return "tone" in piece ? piece.tone : undefined;
      position += length;
    }
    return undefined;
  };

  it("labels each voice the same in every chunk, with the names given, in every format", async () => {
    const status = await transcribe("meeting.wav", MEETING, { speakers: "true", speaker_names: "Ana,Ben" });
    expect(status).toMatchObject({ state: "succeeded" });
    const json = JSON.parse(await output("meeting.wav", "json")) as TranscriptJson;
    expect(json.usage.model).toBe("gpt-4o-transcribe-diarize");
    // Chunks of at most 500 kB (~16 s) cut in pauses: 3 or 4 of them.
    expect(json.source.chunks).toBeGreaterThanOrEqual(3);
    expect(json.speakers).toEqual(["Ana", "Ben"]);
    for (const segment of json.segments) {
      const voice = voiceAt((segment.start + segment.end) / 2);
      expect({ at: segment.start, speaker: segment.speaker }).toEqual({ at: segment.start, speaker: voice === ANA ? "Ana" : "Ben" });
    }
    // Segments of both speakers in the last chunk: its labels came from the first chunk's references.
    expect(new Set(json.segments.filter((s) => s.start > 32).map((s) => s.speaker))).toEqual(new Set(["Ana", "Ben"]));
    const vtt = await output("meeting.wav", "vtt");
    expect(vtt).toMatch(/\n<v Ana>\S/);
    expect(vtt).toMatch(/\n<v Ben>\S/);
    expect(await output("meeting.wav", "srt")).toMatch(/\nBen: \S/);
    expect((await output("meeting.wav", "txt")).split("\n")[0]).toMatch(/^Ana: \S/);

    // The first chunk went alone; the later ones with both speakers as known references.
    const sent = await requests("gpt-4o-transcribe-diarize");
    expect(sent).toHaveLength(json.source.chunks);
    for (const entry of sent) {
      expect(entry.body).toMatchObject({ response_format: "diarized_json", chunking_strategy: "auto" });
      expect(entry.body).not.toHaveProperty("prompt");
    }
    const withReferences = sent.filter((e) => (e.body as Record<string, unknown>)["known_speaker_names[]"] !== undefined);
    expect(withReferences).toHaveLength(json.source.chunks - 1);
    for (const entry of withReferences) {
      const body = entry.body as Record<string, string[]>;
      // Sent under names that cannot meet the model's own A, B, ...; labelled Ana and Ben in the outputs.
      expect(body["known_speaker_names[]"]).toEqual(["speaker_1", "speaker_2"]);
      expect(body["known_speaker_references[]"]).toEqual([
        expect.stringMatching(/^data:audio\/wav;base64,/),
        expect.stringMatching(/^data:audio\/wav;base64,/),
      ]);
    }
  });

  it("refuses a prompt and word times, all at once, before any request", async () => {
    const status = await transcribe("meeting-prompt.wav", [{ tone: ANA, seconds: 3 }], {
      model: "gpt-4o-transcribe-diarize",
      prompt: "Contoso",
      words: "true",
    });
    expect(status.error).toMatchObject({ kind: "bad_input", code: "invalid_options", willRetry: false });
    expect(status.error!.details!.problems).toEqual([
      expect.stringMatching(/takes no prompt/),
      expect.stringMatching(/gives no word times/),
    ]);
    expect(await requests("gpt-4o-transcribe-diarize")).toHaveLength(0);
  });
});

describe("Whisper", () => {
  it("puts word times, offset across chunks, in the JSON with words=true", async () => {
    const status = await transcribe("words.wav", TALK, { words: "true", formats: "json" });
    expect(status).toMatchObject({ state: "succeeded" });
    const json = JSON.parse(await output("words.wav", "json")) as TranscriptJson;
    expect(json.source.chunks).toBeGreaterThanOrEqual(2);
    const words = json.words!;
    expect(words.length).toBeGreaterThan(100);
    for (let i = 1; i < words.length; i++) expect(words[i]!.start).toBeGreaterThanOrEqual(words[i - 1]!.end);
    expect(words.at(-1)!.end).toBeGreaterThan(60);
    expect(words.at(-1)!.end).toBeLessThanOrEqual(64);
    // Each word lies inside the segments' span around it.
    expect(words.filter((w) => w.start > 33).length).toBeGreaterThan(40);
    const sent = await requests("whisper");
    for (const entry of sent)
      expect(entry.body).toMatchObject({ response_format: "verbose_json", "timestamp_granularities[]": ["segment", "word"] });
  });

  it("refuses speaker labels on a model that does not diarize", async () => {
    const status = await transcribe("whisper-speakers.wav", [{ tone: 300, seconds: 2 }], { model: "whisper", speakers: "true" });
    expect(status.error!.message).toMatch(/model "whisper" \(whisper\) does not label speakers; use a gpt-4o-transcribe-diarize model/);
  });
});

describe("audio the app cannot time", () => {
  it("fails subtitles from a text-only model on audio it cannot cut, before any request, and says what to do", async () => {
    // An MPEG program stream is sent as it is: the app does not read its length, so no pieces and no cue times.
    const mpeg = Buffer.concat([Buffer.from([0, 0, 1, 0xba]), Buffer.alloc(2048, 1)]);
    await audio.getBlockBlobClient("song.mpeg").uploadData(mpeg, { metadata: { model: "gpt-4o-transcribe" } });
    const deadline = Date.now() + 30_000;
    let body: StatusBody;
    for (;;) {
      body = (await (await fetch(`${stack.host.url}/api/transcriptions/song.mpeg`)).json()) as StatusBody;
      if (body.state === "failed" || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(body.error).toMatchObject({ kind: "bad_input", code: "no_timings", willRetry: false });
    expect(body.error!.message).toMatch(/srt and vtt need cue times.*formats=json,txt/);
    expect(await requests("gpt-4o-transcribe")).toHaveLength(0);
  });
});

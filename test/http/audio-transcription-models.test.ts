/**
 * POST /api/v1/audio/transcriptions with the gpt-4o transcribe models, through the app in the
 * local host against the simulator's deployments (AZURE_OPENAI_TRANSCRIPTION_MODELS), called with
 * the official `openai` client as its users call it: each model's response formats and fields as
 * Azure takes them (diarized_json with speakers, known speakers, logprobs), and the ones it refuses.
 */
import OpenAI, { BadRequestError, toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { makeWav, type AudioPiece } from "../support/audio/wav.js";
import { startStack, type Stack } from "../support/stack.js";
// The official client's own shape of a diarized answer: what callers read, not a copy of ours.
import type { TranscriptionDiarized } from "openai/resources/audio/transcriptions";

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({
    env: { HTTP_AUTH_LEVEL: "anonymous", AZURE_OPENAI_TRANSCRIPTION_MODELS: "gpt-4o-transcribe,gpt-4o-transcribe-diarize" },
    simulator: { latency: NO_LATENCY },
  });
  client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
}, 120_000);
afterAll(() => stack?.stop());

const ANA = 220;
const BEN = 440;
// 36 s, two voices taking turns: over the 30 s that needs chunking_strategy on the diarizing model.
const MEETING: AudioPiece[] = [
  { tone: ANA, seconds: 8 },
  { silence: 1 },
  { tone: BEN, seconds: 9 },
  { silence: 1 },
  { tone: ANA, seconds: 8 },
  { silence: 1 },
  { tone: BEN, seconds: 8 },
];
const dataUrl = (pattern: AudioPiece[]) => `data:audio/wav;base64,${makeWav(pattern).toString("base64")}`;

async function refusal(call: Promise<unknown>): Promise<BadRequestError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadRequestError);
  return error as BadRequestError;
}

describe("gpt-4o-transcribe", () => {
  it("answers json with token logprobs when asked, and text", async () => {
    const file = await toFile(makeWav([{ tone: 300, seconds: 6 }]), "a.wav");
    const result = await client.audio.transcriptions.create({ file, model: "gpt-4o-transcribe", include: ["logprobs"] });
    expect(result.text.length).toBeGreaterThan(5);
    expect(result.logprobs!.length).toBeGreaterThan(3);
    expect(result.logprobs!.map((l) => l.token).join("")).toBe(result.text);
    const text = await client.audio.transcriptions.create({ file, model: "gpt-4o-transcribe", response_format: "text" });
    expect(typeof text).toBe("string");
  });

  it("refuses what Azure refuses for the model, naming the field", async () => {
    const file = await toFile(makeWav([{ tone: 300, seconds: 2 }]), "a.wav");
    const srt = await refusal(client.audio.transcriptions.create({ file, model: "gpt-4o-transcribe", response_format: "srt" }));
    expect(srt).toMatchObject({ param: "response_format", code: "unsupported_value" });
    expect(srt.message).toMatch(/it answers json, text/);
    const words = await refusal(
      client.audio.transcriptions.create({
        file,
        model: "gpt-4o-transcribe",
        response_format: "verbose_json",
        timestamp_granularities: ["word"],
      }),
    );
    expect(words.param).toBe("response_format");
    const translation = await refusal(client.audio.translations.create({ file, model: "gpt-4o-transcribe" }));
    expect(translation).toMatchObject({ param: "model", code: "unsupported_value" });
    expect(translation.message).toMatch(/only Whisper models do/);
  });
});

describe("gpt-4o-transcribe-diarize", () => {
  it("answers diarized_json with speaker-labelled segments, over 30 s, with chunking_strategy sent for the caller", async () => {
    const result = (await client.audio.transcriptions.create({
      file: await toFile(makeWav(MEETING), "meeting.wav"),
      model: "gpt-4o-transcribe-diarize",
      response_format: "diarized_json",
    })) as TranscriptionDiarized;
    expect(result.duration).toBe(36);
    expect(result.segments.map((s) => s.speaker)).toEqual(["A", "A", "B", "B", "A", "A", "B", "B"]);
    expect(result.segments[0]).toMatchObject({ type: "transcript.text.segment", start: 0 });
  });

  it("labels known speakers by their reference clips", async () => {
    const result = (await client.audio.transcriptions.create({
      file: await toFile(makeWav(MEETING), "meeting.wav"),
      model: "gpt-4o-transcribe-diarize",
      response_format: "diarized_json",
      chunking_strategy: "auto",
      known_speaker_names: ["Ben", "Ana"],
      // Ana's reference is 10 s, the longest Azure takes (427 kB as a data URL).
      known_speaker_references: [dataUrl([{ tone: BEN, seconds: 3 }]), dataUrl([{ tone: ANA, seconds: 10 }])],
    })) as TranscriptionDiarized;
    expect([...new Set(result.segments.map((s) => s.speaker))]).toEqual(["Ana", "Ben"]);
  });

  it("splits a recording longer than the model's 1400 s per request, well under 25 MB, and stitches it", async () => {
    // 1450 s at 2 kHz: 5.8 MB, one request by size, but over what the diarize model takes at once.
    const long = makeWav([{ tone: ANA, seconds: 725 }, { silence: 1 }, { tone: BEN, seconds: 724 }], { sampleRate: 2000 });
    const result = (await client.audio.transcriptions.create({
      file: await toFile(long, "long.wav"),
      model: "gpt-4o-transcribe-diarize",
      response_format: "diarized_json",
    })) as TranscriptionDiarized;
    expect(result.duration).toBe(1450);
    expect(result.segments.at(-1)!.end).toBe(1450);
    const requests = (await stack.simulator.control.journal()).filter(
      (e) => e.deployment === "gpt-4o-transcribe-diarize" && e.status === 200,
    );
    const seconds = requests.slice(-2).map((e) => (e.body as { file: { durationSeconds: number } }).file.durationSeconds);
    expect(seconds[0]).toBeLessThanOrEqual(1400);
    expect(seconds[0]! + seconds[1]!).toBeCloseTo(1450, 3);
  });

  it("refuses a prompt, word times, logprobs and unmatched known speakers", async () => {
    const file = await toFile(makeWav([{ tone: ANA, seconds: 3 }]), "a.wav");
    const model = "gpt-4o-transcribe-diarize";
    expect(await refusal(client.audio.transcriptions.create({ file, model, prompt: "Contoso" }))).toMatchObject({ param: "prompt" });
    expect(await refusal(client.audio.transcriptions.create({ file, model, include: ["logprobs"] }))).toMatchObject({ param: "include[]" });
    const unmatched = await refusal(
      client.audio.transcriptions.create({
        file,
        model,
        known_speaker_names: ["Ana", "Ben"],
        known_speaker_references: [dataUrl([{ tone: ANA, seconds: 3 }])],
      }),
    );
    expect(unmatched.message).toMatch(/give one reference per name/);
    const onWhisper = await refusal(
      client.audio.transcriptions.create({
        file,
        model: "whisper",
        known_speaker_names: ["Ana"],
        known_speaker_references: [dataUrl([{ tone: ANA, seconds: 3 }])],
      }),
    );
    expect(onWhisper.message).toMatch(/only gpt-4o-transcribe-diarize does/);
  });
});

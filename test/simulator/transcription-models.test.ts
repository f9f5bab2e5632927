/**
 * The simulator's gpt-4o transcribe deployments as Azure documents them (the app's
 * test/fixtures/transcription/model-abilities.json says where), called with the official client:
 * formats per model, token usage and logprobs, diarized_json with speakers from the voices heard,
 * chunking_strategy over 30 s, known speaker references, and what each model refuses.
 */
import { BadRequestError, toFile } from "openai";
import type { TranscriptionDiarized } from "openai/resources/audio/transcriptions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { makeWav, type AudioPiece } from "../support/audio/wav.js";
import { azureClient, startFast } from "./helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startFast();
});
afterAll(() => sim.stop());

const TURNS: AudioPiece[] = [
  { tone: 220, seconds: 4 },
  { silence: 1 },
  { tone: 440, seconds: 3 },
  { silence: 1 },
  { tone: 220, seconds: 2 },
];
const dataUrl = (pattern: AudioPiece[]) => `data:audio/wav;base64,${makeWav(pattern).toString("base64")}`;

async function refused(call: Promise<unknown>): Promise<BadRequestError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadRequestError);
  return error as BadRequestError;
}

describe("gpt-4o-transcribe and gpt-4o-mini-transcribe", () => {
  it("answer json with token usage and logprobs, or text, and nothing else", async () => {
    const client = azureClient(sim, { maxRetries: 0 });
    const file = await toFile(makeWav([{ tone: 300, seconds: 5 }]), "a.wav");
    const result = await client.audio.transcriptions.create({ model: "gpt-4o-mini-transcribe", file, include: ["logprobs"] });
    expect(result.usage).toMatchObject({ type: "tokens", input_token_details: { audio_tokens: 50 } });
    expect(result.logprobs!.map((l) => l.token).join("")).toBe(result.text);
    for (const response_format of ["srt", "vtt", "verbose_json", "diarized_json"] as const)
      expect((await refused(client.audio.transcriptions.create({ model: "gpt-4o-transcribe", file, response_format }))).param).toBe(
        "response_format",
      );
    expect((await refused(client.audio.translations.create({ model: "gpt-4o-transcribe", file }))).code).toBe("OperationNotSupported");
    expect((await refused(client.audio.transcriptions.create({ model: "whisper", file, include: ["logprobs"] }))).message).toMatch(
      /not supported with model 'whisper'/,
    );
  });
});

describe("gpt-4o-transcribe-diarize", () => {
  it("answers diarized_json whose speakers follow the voices, named by their references", async () => {
    const client = azureClient(sim, { maxRetries: 0 });
    const file = await toFile(makeWav(TURNS), "turns.wav");
    const plain = (await client.audio.transcriptions.create({
      model: "gpt-4o-transcribe-diarize",
      file,
      response_format: "diarized_json",
    })) as TranscriptionDiarized;
    expect(plain.segments.map((s) => [s.start, s.end, s.speaker])).toEqual([
      [0, 4, "A"],
      [5, 8, "B"],
      [9, 11, "A"],
    ]);
    const named = (await client.audio.transcriptions.create({
      model: "gpt-4o-transcribe-diarize",
      file,
      response_format: "diarized_json",
      known_speaker_names: ["Ben"],
      known_speaker_references: [dataUrl([{ tone: 440, seconds: 2.5 }])],
    })) as TranscriptionDiarized;
    // The known voice takes its name; the other is lettered.
    expect(named.segments.map((s) => s.speaker)).toEqual(["A", "Ben", "A"]);
  });

  it("needs chunking_strategy over 30 s, refuses a prompt and references outside 2-10 s", async () => {
    const client = azureClient(sim, { maxRetries: 0 });
    const model = "gpt-4o-transcribe-diarize";
    const long = await toFile(makeWav([{ tone: 220, seconds: 31 }], { sampleRate: 8000 }), "long.wav");
    expect((await refused(client.audio.transcriptions.create({ model, file: long }))).param).toBe("chunking_strategy");
    expect((await client.audio.transcriptions.create({ model, file: long, chunking_strategy: "auto" })).text.length).toBeGreaterThan(10);
    const tooLong = await toFile(makeWav([{ tone: 220, seconds: 1401 }], { sampleRate: 2000 }), "too-long.wav");
    expect((await refused(client.audio.transcriptions.create({ model, file: tooLong, chunking_strategy: "auto" }))).message).toMatch(
      /longer than 1400 seconds which is the maximum for this model/,
    );
    const file = await toFile(makeWav(TURNS), "turns.wav");
    expect((await refused(client.audio.transcriptions.create({ model, file, prompt: "Contoso" }))).param).toBe("prompt");
    const short = await refused(
      client.audio.transcriptions.create({
        model,
        file,
        known_speaker_names: ["Ana"],
        known_speaker_references: [dataUrl([{ tone: 220, seconds: 1 }])],
      }),
    );
    expect(short.message).toMatch(/between 2 and 10 seconds/);
    expect(
      (
        await refused(
          client.audio.transcriptions.create({ model, file, response_format: "verbose_json", timestamp_granularities: ["word"] }),
        )
      ).param,
    ).toBe("response_format");
  });
});

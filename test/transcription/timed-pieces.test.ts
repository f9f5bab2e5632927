/**
 * The pieces of at most ~30 s that models without times are sent (cut at quiet stretches), the
 * reference clips cut out of a recording, and the speaker labels made consistent across chunks.
 */
import { describe, expect, it } from "vitest";
import { planChunks } from "../../src/transcription/chunk-plan.js";
import { cutAudio } from "../../src/transcription/cut-audio.js";
import { parseMp3 } from "../../src/transcription/mp3.js";
import { knownSpeakersFrom, labelSpeakers } from "../../src/transcription/speakers.js";
import type { ChunkTranscript } from "../../src/transcription/stitch.js";
import { parseWav } from "../../src/transcription/wav.js";
import { makeMp3 } from "../support/audio/mp3.js";
import { makeWav, type AudioPiece } from "../support/audio/wav.js";

// 24 s of sound, a 1 s pause, 20 s, a 1 s pause, 18 s: 64 s in all.
const TALK: AudioPiece[] = [
  { tone: 300, seconds: 24 },
  { silence: 1 },
  { tone: 500, seconds: 20 },
  { silence: 1 },
  { tone: 300, seconds: 18 },
];
const joined = (parts: readonly Uint8Array[]) => Buffer.concat(parts.map((part) => Buffer.from(part)));

describe("pieces of at most maxChunkSeconds", () => {
  it("cuts WAV well under the byte limit into pieces of at most 30 s, in its pauses", async () => {
    const wav = makeWav(TALK);
    const plan = await planChunks(wav, "wav", { maxChunkBytes: 25_000_000, maxChunkSeconds: 30 });
    expect(plan.chunks.map((c) => [c.startInSeconds, c.endInSeconds])).toEqual([
      [0, expect.closeTo(24.5, 0)],
      [expect.closeTo(24.5, 0), expect.closeTo(45.5, 0)],
      [expect.closeTo(45.5, 0), 64],
    ]);
    for (const chunk of plan.chunks) {
      expect(chunk.endInSeconds! - chunk.startInSeconds).toBeLessThanOrEqual(30);
      // Each piece is a WAV file of its own, of the length the plan says.
      expect(parseWav(joined(chunk.parts)).durationInSeconds).toBeCloseTo(chunk.endInSeconds! - chunk.startInSeconds, 6);
    }
    // Cut in the pauses: 24-25 s and 45-46 s.
    expect(plan.chunks[1]!.startInSeconds).toBeGreaterThan(24);
    expect(plan.chunks[1]!.startInSeconds).toBeLessThan(25);
    expect(plan.chunks[2]!.startInSeconds).toBeGreaterThan(45);
    expect(plan.chunks[2]!.startInSeconds).toBeLessThan(46);
    // Without the option the same file is one chunk.
    expect((await planChunks(wav, "wav", { maxChunkBytes: 25_000_000 })).chunks).toHaveLength(1);
  });

  it("cuts MP3 the same way, at frame boundaries, and leaves short files whole", async () => {
    const mp3 = makeMp3(TALK, { sampleRate: 8000, kbps: 16 });
    const plan = await planChunks(mp3, "mp3", { maxChunkBytes: 25_000_000, maxChunkSeconds: 30 });
    expect(plan.chunks).toHaveLength(3);
    for (const chunk of plan.chunks) {
      expect(chunk.endInSeconds! - chunk.startInSeconds).toBeLessThanOrEqual(30);
      expect(parseMp3(joined(chunk.parts)).durationInSeconds).toBeCloseTo(chunk.endInSeconds! - chunk.startInSeconds, 3);
    }
    expect(plan.chunks[1]!.startInSeconds).toBeGreaterThan(24);
    expect(plan.chunks[1]!.startInSeconds).toBeLessThan(25.1);
    expect(
      (await planChunks(makeMp3([{ tone: 300, seconds: 12 }]), "mp3", { maxChunkBytes: 25_000_000, maxChunkSeconds: 30 })).chunks,
    ).toHaveLength(1);
  });
});

describe("cutting clips", () => {
  it("cuts a WAV clip as a file of its own, of the asked span", async () => {
    const wav = makeWav(TALK, { sampleRate: 8000 });
    const clip = await cutAudio(wav, "wav", 25, 31.5);
    expect(clip).toMatchObject({ startInSeconds: 25, endInSeconds: 31.5 });
    const info = parseWav(clip.bytes);
    expect(info.durationInSeconds).toBe(6.5);
    expect(info.sampleRate).toBe(8000);
    // The clip's samples are the recording's own.
    const source = parseWav(wav);
    expect(
      Buffer.from(clip.bytes.subarray(info.dataOffset)).equals(
        wav.subarray(source.dataOffset + 25 * 16000, source.dataOffset + 31.5 * 16000),
      ),
    ).toBe(true);
  });

  it("cuts an MP3 clip of whole frames covering the span, and refuses what it cannot cut", async () => {
    const clip = await cutAudio(makeMp3(TALK.slice(0, 1), { sampleRate: 8000, kbps: 16 }), "mp3", 10, 14);
    expect(clip.startInSeconds).toBeLessThanOrEqual(10);
    expect(clip.endInSeconds).toBeGreaterThanOrEqual(14);
    expect(clip.endInSeconds - clip.startInSeconds).toBeLessThan(4.2);
    expect(parseMp3(clip.bytes).durationInSeconds).toBeCloseTo(clip.endInSeconds - clip.startInSeconds, 3);
    await expect(cutAudio(Buffer.from([0, 0, 1, 0xba]), "mpeg", 0, 2)).rejects.toThrow(
      /cannot be cut from MPEG audio; only wav, mp3, mpga, flac/,
    );
    await expect(cutAudio(makeWav(TALK), "wav", 5, 5)).rejects.toThrow(/holds no audio/);
  });
});

describe("speaker labels across chunks", () => {
  const chunk = (index: number, start: number, segments: Array<[number, number, string]>): ChunkTranscript => ({
    index,
    startInSeconds: start,
    endInSeconds: start + 30,
    text: "",
    language: "",
    duration: 30,
    segments: segments.map(([s, e, speaker]) => ({ start: s, end: e, text: speaker, speaker })),
  });

  it("gives the first chunk's speakers reference clips of 2-10 s from their longest turn", async () => {
    const wav = makeWav(TALK, { sampleRate: 8000 });
    const { known, finalOf } = await knownSpeakersFrom(
      chunk(0, 0, [
        [0, 1.5, "A"],
        [1.5, 24, "B"],
        [25, 26, "C"],
        [26, 27.5, "A"],
      ]),
      wav,
      "wav",
      ["Ana"],
      4,
    );
    // A and C never speak 2 s at a stretch: no reference can be cut for them. B is sent under a
    // name that cannot meet the model's own letters, and stands for the second speaker.
    expect(known.names).toEqual(["speaker_2"]);
    expect(finalOf).toEqual(new Map([["speaker_2", "Speaker 2"]]));
    const clip = Buffer.from(known.references[0]!.replace(/^data:audio\/wav;base64,/, ""), "base64");
    expect(parseWav(clip).durationInSeconds).toBe(10);
  });

  it("leaves out a speaker whose clip cannot be cut, and keeps the others", async () => {
    const wav = makeWav(TALK, { sampleRate: 8000 }); // 64 s
    // The model placed B's only turn past the end of the recording (timestamps that drifted):
    // no clip holds it, so B goes without a reference while A keeps its own.
    const { known, finalOf } = await knownSpeakersFrom(
      chunk(0, 0, [
        [0, 6, "A"],
        [70, 75, "B"],
      ]),
      wav,
      "wav",
      undefined,
      4,
    );
    expect(known.names).toEqual(["speaker_1"]);
    expect(finalOf).toEqual(new Map([["speaker_1", "Speaker 1"]]));
    const clip = Buffer.from(known.references[0]!.replace(/^data:audio\/wav;base64,/, ""), "base64");
    expect(parseWav(clip).durationInSeconds).toBe(6);
  });

  it("keeps the known names and numbers new speakers after them, with the user's names first", () => {
    const labelled = labelSpeakers(
      [
        chunk(1, 30, [
          [0, 5, "speaker_2"],
          [5, 9, "A"],
          [9, 12, "speaker_1"],
        ]),
        chunk(0, 0, [
          [0, 5, "A"],
          [5, 9, "B"],
        ]),
        chunk(2, 60, [[0, 4, "A"]]),
      ],
      ["Ana", "Ben"],
      new Map([
        ["speaker_1", "Ana"],
        ["speaker_2", "Ben"],
      ]),
    );
    expect(labelled.map((c) => c.segments.map((s) => s.speaker))).toEqual([["Ana", "Ben"], ["Ben", "Speaker 3", "Ana"], ["Speaker 4"]]);
  });
});

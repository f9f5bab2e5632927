/**
 * Overlapping chunks (lossy container audio, containers/plan.ts) transcribed the way a real
 * Whisper does: the overlap's words in both chunks, with times a little apart and the words at a
 * chunk's edge garbled or cut. Stitching keeps each word once. The simulator's exact case is in
 * container-splitting.test.ts; these are the inexact ones.
 */
import { describe, expect, it } from "vitest";
import { stitchTranscripts, type ChunkTranscript, type WhisperSegment, type WhisperWord } from "../../src/transcription/stitch.js";

/** Words at 0.5 s apart from `from` (recording time), as chunk-relative words of a chunk starting at `chunkStart`. */
function words(texts: string, from: number, chunkStart: number, jitter = 0): WhisperWord[] {
  return texts
    .split(" ")
    .map((word, i) => ({ word, start: from - chunkStart + i * 0.5 + jitter, end: from - chunkStart + i * 0.5 + 0.4 + jitter }));
}

function segmentOf(list: WhisperWord[]): WhisperSegment {
  return { start: list[0]!.start, end: list.at(-1)!.end, text: " " + list.map((w) => w.word).join(" ") };
}

function chunk(index: number, start: number, end: number, segments: WhisperWord[][], withWords = true): ChunkTranscript {
  return {
    index,
    startInSeconds: start,
    endInSeconds: end,
    text: segments.map((s) => s.map((w) => w.word).join(" ")).join(" "),
    language: "english",
    duration: end - start,
    segments: segments.map(segmentOf),
    ...(withWords ? { words: segments.flat() } : {}),
  };
}

// The recording: "one two ... ten" from 10 s, 0.5 s apart; chunk 0 is [0, 14), chunk 1 [10, 30).
// Chunk 0 hears the overlap up to "eight" and garbles its last word; chunk 1 starts at "one" 40 ms late.
const earlier = chunk(0, 0, 14, [
  words("so here we go", 7, 0),
  words("one two three four", 10, 0),
  words("five six seven eight nein", 12, 0),
]);
const later = chunk(1, 10, 30, [words("one two three four five", 10, 10, 0.04), words("six seven eight nine ten", 12.5, 10, 0.04)]);

describe("stitching overlapping chunks", () => {
  it("keeps each word once, cutting at a segment both chunks transcribed alike", () => {
    const stitched = stitchTranscripts([later, earlier], 30);
    expect(stitched.words!.map((w) => w.word).join(" ")).toBe("so here we go one two three four five six seven eight nine ten");
    expect(stitched.text).toBe("so here we go one two three four five six seven eight nine ten");
    // Times stay the recording's, ordered.
    expect(stitched.words!.find((w) => w.word === "nine")!.start).toBeCloseTo(14.04, 3);
  });

  it("without a common segment, cuts in the longest common run of words, splitting the segments across it", () => {
    const a = chunk(0, 0, 14, [words("so here we go one two three four five six seven eight nein", 8, 0)]);
    const b = chunk(1, 10, 30, [words("one two three four five six seven eight nine ten", 10, 10, 0.04)]);
    const stitched = stitchTranscripts([a, b], 30);
    expect(stitched.words!.map((w) => w.word).join(" ")).toBe("so here we go one two three four five six seven eight nine ten");
    expect(stitched.segments.map((s) => s.text).join(" ")).toBe("so here we go one two three four five six seven eight nine ten");
    expect(stitched.segments).toHaveLength(2);
    expect(stitched.segments[1]!.start).toBeGreaterThanOrEqual(stitched.segments[0]!.end);
  });

  it("without word timestamps, matches the segments' words by text", () => {
    const a = chunk(0, 0, 14, [words("so here we go one two three four five six seven eight nein", 8, 0)], false);
    const b = chunk(1, 10, 30, [words("one two three four five six seven eight nine ten", 10, 10, 0.04)], false);
    const stitched = stitchTranscripts([a, b], 30);
    expect(stitched.text).toBe("so here we go one two three four five six seven eight nine ten");
    expect(stitched.words).toBeUndefined();
  });

  it("with text only (no segments), drops the later chunk's repeated opening and the earlier's cut-off ending", () => {
    const a = { ...chunk(0, 0, 14, [], false), text: "So here we go, one two three four five six seven eight nein" };
    const b = { ...chunk(1, 10, 30, [], false), text: "one two three four five six seven eight nine ten." };
    expect(stitchTranscripts([a, b], 30).text).toBe("So here we go, one two three four five six seven eight nine ten.");
  });

  it("with nothing in common, splits the overlap in its middle", () => {
    const a = chunk(0, 0, 14, [words("alpha beta gamma", 9, 0), words("delta epsilon", 12.5, 0)]);
    const b = chunk(1, 10, 30, [words("zeta eta", 10, 10), words("theta iota", 13, 10)]);
    // Middle of [10, 14) is 12: each chunk keeps its own words on its side.
    expect(stitchTranscripts([a, b], 30).words!.map((w) => w.word)).toEqual(["alpha", "beta", "gamma", "theta", "iota"]);
  });

  it("leaves chunks that do not overlap as they were", () => {
    const a = chunk(0, 0, 10, [words("one two", 1, 0)]);
    const b = chunk(1, 10, 20, [words("one two", 11, 10)]);
    expect(stitchTranscripts([a, b], 20).text).toBe("one two one two");
  });
});

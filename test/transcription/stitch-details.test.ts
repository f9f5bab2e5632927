/**
 * Stitching keeps what the HTTP API's verbose_json needs beyond times and text: Whisper's segment
 * figures (with `seek` moved into the whole recording) and word timestamps, shifted and ordered
 * across chunks like the segments.
 */
import { expect, it } from "vitest";
import { stitchTranscripts, type ChunkTranscript } from "../../src/transcription/stitch.js";

function chunk(index: number, start: number, end: number, withWords: boolean): ChunkTranscript {
  const length = end - start;
  return {
    index,
    startInSeconds: start,
    endInSeconds: end,
    text: ` chunk ${index}`,
    language: "english",
    duration: length,
    segments: [
      {
        start: 0,
        end: length / 2,
        text: ` first of ${index}`,
        seek: 0,
        tokens: [1, 2],
        temperature: 0,
        avg_logprob: -0.2,
        compression_ratio: 1.3,
        no_speech_prob: 0.01,
      },
      // Whisper overshoots its input a little: clamped into the chunk.
      { start: length / 2, end: length + 0.3, text: ` second of ${index}`, seek: 3000 },
    ],
    ...(withWords
      ? {
          words: [
            { word: "first", start: 0, end: 1 },
            { word: "second", start: length / 2, end: length + 0.2 },
          ],
        }
      : {}),
  };
}

it("shifts words and seek by each chunk's start, clamped into the chunk and ordered, whatever order the chunks come in", () => {
  const transcript = stitchTranscripts([chunk(1, 600, 1200, true), chunk(0, 0, 600, true)], 1200);
  expect(transcript.words).toEqual([
    { word: "first", start: 0, end: 1 },
    { word: "second", start: 300, end: 600 },
    { word: "first", start: 600, end: 601 },
    { word: "second", start: 900, end: 1200 },
  ]);
  expect(transcript.segments.map((s) => [s.id, s.start, s.end, s.seek])).toEqual([
    [0, 0, 300, 0],
    [1, 300, 600, 3000],
    [2, 600, 900, 60000],
    [3, 900, 1200, 63000],
  ]);
  expect(transcript.segments[2]).toMatchObject({
    tokens: [1, 2],
    temperature: 0,
    avg_logprob: -0.2,
    compression_ratio: 1.3,
    no_speech_prob: 0.01,
  });
  expect(transcript.segments[3]).not.toHaveProperty("tokens");
});

it("has no words unless every chunk has them", () => {
  expect(stitchTranscripts([chunk(0, 0, 600, true), chunk(1, 600, 1200, false)], 1200)).not.toHaveProperty("words");
});

/**
 * Joins the transcripts of a file's chunks into one: each chunk's segment (and word) times are
 * shifted by the chunk's start, kept inside the chunk, and made strictly ordered, so the result
 * reads like one transcription of the whole recording. Whisper's other per-segment figures
 * (tokens, log-probability, ...) are carried along for the HTTP API's verbose_json; the blob
 * pipeline's outputs leave them out (writers.ts).
 */

import { dropOverlapRepeats } from "./overlap.js";

/** Whisper's per-segment figures besides times and text, as verbose_json carries them. */
export interface SegmentDetails {
  /** Whisper's 10 ms frame offset of the segment's 30-second window, in the whole recording once stitched. */
  seek?: number;
  tokens?: number[];
  temperature?: number;
  avg_logprob?: number;
  compression_ratio?: number;
  no_speech_prob?: number;
}

/** A segment as Whisper answers it for one chunk (verbose_json). */
export interface WhisperSegment extends SegmentDetails {
  start: number;
  end: number;
  text: string;
  /** Who speaks (diarizing model), once speakers.ts has made the labels consistent across chunks. */
  speaker?: string;
}

/** A word with its times (verbose_json with `timestamp_granularities[]=word`). */
export interface WhisperWord {
  word: string;
  start: number;
  end: number;
}

export interface TranscriptSegment extends SegmentDetails {
  id: number;
  start: number;
  end: number;
  text: string;
  speaker?: string;
}

/** What Whisper returned for one chunk (verbose_json), reduced to what the outputs use. */
export interface ChunkTranscript {
  index: number;
  startInSeconds: number;
  /** Known from the bytes for WAV/MP3 chunks; otherwise the chunk is the whole file and Whisper's duration is used. */
  endInSeconds: number | undefined;
  text: string;
  language: string;
  /** Duration Whisper reports for the chunk. */
  duration: number;
  segments: readonly WhisperSegment[];
  /** Present when word timestamps were asked for. */
  words?: readonly WhisperWord[];
}

export interface Transcript {
  text: string;
  language: string;
  duration: number;
  segments: TranscriptSegment[];
  /** Present when every chunk has word timestamps. */
  words?: WhisperWord[];
}

/**
 * Stitches chunk transcripts (in any order) into one transcript.
 * @param durationInSeconds the recording's length when known from its bytes; else the sum of chunk durations.
 */
export function stitchTranscripts(chunks: readonly ChunkTranscript[], durationInSeconds: number | undefined): Transcript {
  // Chunks of lossy audio overlap; what an overlap says twice is kept once.
  const ordered = dropOverlapRepeats([...chunks].sort((a, b) => a.index - b.index));
  const segments: TranscriptSegment[] = [];
  const words: WhisperWord[] | undefined = ordered.length > 0 && ordered.every((c) => c.words) ? [] : undefined;
  let previousEnd = 0;
  let previousWordEnd = 0;
  for (const chunk of ordered) {
    const chunkStart = chunk.startInSeconds;
    const chunkEnd = chunk.endInSeconds ?? chunkStart + chunk.duration;
    for (const segment of chunk.segments) {
      const text = segment.text.trim();
      // Clamp into the chunk (Whisper can overshoot its input by a few ms) and after the previous segment.
      const start = roundMs(Math.max(previousEnd, Math.min(chunkEnd, chunkStart + Math.max(0, segment.start))));
      const end = roundMs(Math.max(start, Math.min(chunkEnd, chunkStart + segment.end)));
      if (text === "" || end <= start) continue;
      segments.push({
        ...shiftedDetails(segment, chunkStart),
        id: segments.length,
        start,
        end,
        text,
        ...(segment.speaker !== undefined ? { speaker: segment.speaker } : {}),
      });
      previousEnd = end;
    }
    for (const word of chunk.words ?? []) {
      // Words are clamped the same way, but only kept ordered (a word may last 0 s).
      const start = roundMs(Math.max(previousWordEnd, Math.min(chunkEnd, chunkStart + Math.max(0, word.start))));
      const end = roundMs(Math.max(start, Math.min(chunkEnd, chunkStart + word.end)));
      words?.push({ word: word.word, start, end });
      previousWordEnd = end;
    }
  }
  const lastChunk = ordered.at(-1);
  const duration = durationInSeconds ?? (lastChunk ? (lastChunk.endInSeconds ?? lastChunk.startInSeconds + lastChunk.duration) : 0);
  return {
    text: ordered
      .map((c) => c.text.trim())
      .filter(Boolean)
      .join(" "),
    language: mostCommon(ordered.map((c) => c.language)) ?? "",
    duration: roundMs(duration),
    segments,
    ...(words ? { words } : {}),
  };
}

/** Whisper's figures of a segment, its `seek` moved from the chunk's frames to the recording's. */
function shiftedDetails(segment: WhisperSegment, chunkStart: number): SegmentDetails {
  const details: SegmentDetails = {};
  if (segment.seek !== undefined) details.seek = segment.seek + Math.round(chunkStart * 100);
  if (segment.tokens !== undefined) details.tokens = segment.tokens;
  if (segment.temperature !== undefined) details.temperature = segment.temperature;
  if (segment.avg_logprob !== undefined) details.avg_logprob = segment.avg_logprob;
  if (segment.compression_ratio !== undefined) details.compression_ratio = segment.compression_ratio;
  if (segment.no_speech_prob !== undefined) details.no_speech_prob = segment.no_speech_prob;
  return details;
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [value, count] of counts) if (best === undefined || count > counts.get(best)!) best = value;
  return best;
}

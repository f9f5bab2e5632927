/**
 * Joins the transcripts of a file's chunks into one: each chunk's segment times are shifted by the
 * chunk's start, kept inside the chunk, and made strictly ordered, so the result reads like one
 * transcription of the whole recording.
 */

export interface TranscriptSegment {
  id: number;
  start: number;
  end: number;
  text: string;
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
  segments: ReadonlyArray<{ start: number; end: number; text: string }>;
}

export interface Transcript {
  text: string;
  language: string;
  duration: number;
  segments: TranscriptSegment[];
}

/**
 * Stitches chunk transcripts (in any order) into one transcript.
 * @param durationInSeconds the recording's length when known from its bytes; else the sum of chunk durations.
 */
export function stitchTranscripts(chunks: readonly ChunkTranscript[], durationInSeconds: number | undefined): Transcript {
  const ordered = [...chunks].sort((a, b) => a.index - b.index);
  const segments: TranscriptSegment[] = [];
  let previousEnd = 0;
  for (const chunk of ordered) {
    const chunkStart = chunk.startInSeconds;
    const chunkEnd = chunk.endInSeconds ?? chunkStart + chunk.duration;
    for (const segment of chunk.segments) {
      const text = segment.text.trim();
      // Clamp into the chunk (Whisper can overshoot its input by a few ms) and after the previous segment.
      const start = roundMs(Math.max(previousEnd, Math.min(chunkEnd, chunkStart + Math.max(0, segment.start))));
      const end = roundMs(Math.max(start, Math.min(chunkEnd, chunkStart + segment.end)));
      if (text === "" || end <= start) continue;
      segments.push({ id: segments.length, start, end, text });
      previousEnd = end;
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
  };
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

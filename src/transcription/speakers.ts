/**
 * Keeps speaker labels the same across the chunks of a long file. The diarizing model labels the
 * speakers of each request on its own (A, B, ... in the order they speak), so chunk 2's "A" need
 * not be chunk 1's "A". The first chunk is therefore transcribed before the others; each speaker
 * it finds (up to Azure's 4 known speakers) gets its final name and a reference clip cut from its
 * longest stretch of speech (2-10 s, as Azure requires), and every later chunk is sent those as
 * `known_speaker_names[]` / `known_speaker_references[]`, so the model answers with the same names.
 * A speaker the first chunk does not hear, or speaks there for under 2 s at a stretch, cannot be
 * referenced: it is labelled anew in each later chunk it appears in (docs/transcription.md, Speakers).
 */
import { MIME_TYPES, type AudioFormat } from "./audio-format.js";
import { CUTTABLE_FORMATS, cutAudio } from "./cut-audio.js";
import type { ChunkTranscript, WhisperSegment } from "./stitch.js";
import type { KnownSpeakers } from "./whisper.js";

/** Azure's bounds for a reference clip. */
export const MIN_REFERENCE_SECONDS = 2;
export const MAX_REFERENCE_SECONDS = 10;
/**
 * Largest reference clip: ten seconds of CD-quality WAV is 1.7 MB, and up to four travel in the
 * request beside the chunk, so a clip over this is cut shorter (down to 2 s) to keep requests small.
 */
export const MAX_REFERENCE_BYTES = 512 * 1024;
/** What the known speakers can add to a request (base64 grows a third): chunks for the diarizing model leave this much room. */
export const KNOWN_SPEAKERS_ALLOWANCE_BYTES = 4 * Math.ceil((MAX_REFERENCE_BYTES * 4) / 3) + 64 * 1024;

/** A speaker's final label: the user's name for the i-th speaker to speak, else "Speaker i+1". */
export function speakerName(index: number, names: readonly string[] | undefined): string {
  return names?.[index] ?? `Speaker ${index + 1}`;
}

/** Labels in the order they first speak. */
function labelsInOrder(segments: readonly WhisperSegment[]): string[] {
  return [...new Set(segments.flatMap((segment) => (segment.speaker === undefined ? [] : [segment.speaker])))];
}

/** The name a first-chunk speaker is sent under: never a letter, so it cannot meet the model's own A, B, ... */
export function referenceName(index: number): string {
  return `speaker_${index + 1}`;
}

/**
 * The known speakers for the chunks after `first`: its speakers (at most `max`), each under the
 * name referenceName gives it, with a reference clip of its longest segment cut from `audio`. A
 * speaker whose longest segment is under 2 s is left out (Azure refuses shorter clips); so is every
 * speaker when the format cannot be cut (cut-audio.ts).
 * @returns the known speakers to send, and the final label of each name sent.
 */
export async function knownSpeakersFrom(
  first: ChunkTranscript,
  audio: Uint8Array,
  format: AudioFormat,
  names: readonly string[] | undefined,
  max: number,
): Promise<{ known: KnownSpeakers; finalOf: Map<string, string> }> {
  const known: KnownSpeakers = { names: [], references: [] };
  const finalOf = new Map<string, string>();
  if (!CUTTABLE_FORMATS.includes(format)) return { known, finalOf };
  for (const [index, label] of labelsInOrder(first.segments).entries()) {
    if (known.names.length >= max) break;
    const longest = first.segments
      .filter((segment) => segment.speaker === label)
      .reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a));
    if (longest.end - longest.start < MIN_REFERENCE_SECONDS) continue;
    const start = first.startInSeconds + longest.start;
    let seconds = Math.min(MAX_REFERENCE_SECONDS, longest.end - longest.start);
    // A clip that cannot be cut (a damaged stretch of the recording) costs that speaker its
    // reference, not the transcription whose first chunk is already paid for.
    const clipOf = (span: number) => cutAudio(audio, format, start, start + span).catch(() => undefined);
    let clip = await clipOf(seconds);
    if (clip && clip.bytes.byteLength > MAX_REFERENCE_BYTES) {
      seconds = Math.max(MIN_REFERENCE_SECONDS, (seconds * MAX_REFERENCE_BYTES) / clip.bytes.byteLength);
      clip = await clipOf(seconds);
      if (clip && clip.bytes.byteLength > MAX_REFERENCE_BYTES) continue;
    }
    if (!clip) continue;
    known.names.push(referenceName(index));
    known.references.push(`data:${MIME_TYPES[format]};base64,${Buffer.from(clip.bytes).toString("base64")}`);
    finalOf.set(referenceName(index), speakerName(index, names));
  }
  return { known, finalOf };
}

/**
 * The chunks with their final speaker labels, in chunk order: the first chunk's speakers in the
 * order they speak, then each new speaker of a later chunk (a label that is not a known name) as
 * the next. Pure, so a resumed run labels its kept chunks exactly as the first run would have.
 * @param known each name sent as a known speaker, with the label it stands for.
 */
export function labelSpeakers<T extends ChunkTranscript>(
  chunks: readonly T[],
  names: readonly string[] | undefined,
  known: ReadonlyMap<string, string>,
): T[] {
  const ordered = [...chunks].sort((a, b) => a.index - b.index);
  let count = 0;
  const finalOf = new Map<string, string>();
  return ordered.map((chunk, position) => {
    const local = new Map<string, string>();
    for (const label of labelsInOrder(chunk.segments)) {
      const knownAs = known.get(label);
      if (knownAs !== undefined) {
        local.set(label, knownAs);
        continue;
      }
      const key = `${position}\u0000${label}`;
      if (!finalOf.has(key)) finalOf.set(key, speakerName(count++, names));
      local.set(label, finalOf.get(key)!);
    }
    return {
      ...chunk,
      segments: chunk.segments.map((segment) =>
        segment.speaker === undefined ? segment : { ...segment, speaker: local.get(segment.speaker)! },
      ),
    };
  });
}

/** The chunks without speaker labels (the diarizing model with speakers=false). */
export function withoutSpeakers<T extends ChunkTranscript>(chunks: readonly T[]): T[] {
  return chunks.map((chunk) => ({ ...chunk, segments: chunk.segments.map(({ speaker: _speaker, ...segment }) => segment) }));
}

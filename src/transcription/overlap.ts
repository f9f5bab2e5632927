/**
 * Drops what overlapping chunks say twice. Chunks of lossy FLAC/Ogg/WebM/MP4 audio overlap by a
 * few seconds (containers/plan.ts), so the words of each overlap come back in both neighbours'
 * transcripts. For each pair, a seam is found inside the overlap; the earlier chunk keeps what
 * starts before the seam, the later chunk what starts at or after it.
 *
 * The seam is, by preference:
 * 1. the start of a segment both chunks transcribed alike (same words, start within
 *    MATCH_SECONDS): segment boundaries are where both transcripts agree on a pause;
 * 2. the middle of the longest run of words both chunks transcribed alike (word timestamps);
 * 3. the middle of the overlap, when the two transcripts share nothing there.
 * Each chunk is cut at its own copy of the seam, so the small timing differences between two
 * transcriptions of the same audio neither drop nor repeat a word.
 * A transcript without segments (models that answer text only) has no times to cut at: the later
 * chunk's text loses its opening words up to the end of the longest run of words it shares with
 * the earlier chunk's closing words.
 */
import type { ChunkTranscript, WhisperSegment, WhisperWord } from "./stitch.js";

/** How far apart the two transcriptions' times of the same segment or word may be. */
const MATCH_SECONDS = 1;
/** How far from its real time a word placed by spreading its segment's words evenly may be. */
const ROUGH_SECONDS = 10;

/** Where each chunk is cut, in its own (chunk-relative) times. */
interface Cut {
  /** The earlier chunk keeps segments and words that start before this. */
  earlierBefore: number;
  /** The later chunk keeps segments and words that start at or after this. */
  laterFrom: number;
}

/**
 * The chunks, ordered by index, with the repeated part of every overlap removed (from the end of
 * the earlier chunk or the start of the later one). Chunks that do not overlap come back as they
 * were.
 */
export function dropOverlapRepeats(ordered: readonly ChunkTranscript[]): ChunkTranscript[] {
  const keepFrom: number[] = ordered.map(() => -Infinity);
  const keepBefore: number[] = ordered.map(() => Infinity);
  for (let i = 0; i + 1 < ordered.length; i++) {
    const earlier = ordered[i]!;
    const later = ordered[i + 1]!;
    const earlierEnd = earlier.endInSeconds ?? earlier.startInSeconds + earlier.duration;
    if (later.startInSeconds >= earlierEnd) continue;
    if (earlier.segments.length === 0 || later.segments.length === 0) continue; // text only: below
    const cut = seam(earlier, later, later.startInSeconds, earlierEnd);
    keepBefore[i] = cut.earlierBefore;
    keepFrom[i + 1] = cut.laterFrom;
  }
  const kept = ordered.map((chunk, i) =>
    keepFrom[i] === -Infinity && keepBefore[i] === Infinity ? chunk : keepBetween(chunk, keepFrom[i]!, keepBefore[i]!),
  );
  for (let i = 0; i + 1 < kept.length; i++) {
    const earlier = kept[i]!;
    const later = kept[i + 1]!;
    const earlierEnd = earlier.endInSeconds ?? earlier.startInSeconds + earlier.duration;
    if (later.startInSeconds >= earlierEnd || (earlier.segments.length > 0 && later.segments.length > 0)) continue;
    const [earlierText, laterText] = withoutRepeats(earlier.text, later.text, earlierEnd - later.startInSeconds);
    kept[i] = { ...earlier, text: earlierText };
    kept[i + 1] = { ...later, text: laterText };
  }
  return kept;
}

/**
 * The two texts with what they repeat kept once: `later` loses its opening words up to the end of
 * the longest run it shares with `earlier`'s closing words; `earlier` loses the few words after
 * that run (a word cut off at the chunk's end).
 */
function withoutRepeats(earlier: string, later: string, seconds: number): [string, string] {
  // Look at about twice the words the overlap can hold at a fast speaking rate (4 words a second).
  const span = Math.ceil(seconds * 4 * 2) + 4;
  const all = earlier.trim().split(/\s+/);
  const tail = all.slice(-span);
  const head = later.trim().split(/\s+/);
  const asWords = (words: string[]) => words.map((word, i) => ({ word, start: i * 1e-6, end: i * 1e-6 }));
  const run = longestCommonRun(asWords(tail), asWords(head.slice(0, span)), 0, 0);
  // A single common word ("the") is chance; two or more in a row is the overlap.
  const wordsAfterRun = run ? tail.length - (run.a + run.length) : 0;
  if (!run || run.length < 2 || wordsAfterRun > 3) return [earlier, later];
  return [all.slice(0, all.length - wordsAfterRun).join(" "), head.slice(run.b + run.length).join(" ")];
}

function seam(earlier: ChunkTranscript, later: ChunkTranscript, overlapStart: number, overlapEnd: number): Cut {
  const toEarlier = (t: number) => t - earlier.startInSeconds;
  const toLater = (t: number) => t - later.startInSeconds;
  const middle = (overlapStart + overlapEnd) / 2;

  // 1. A segment both transcribed alike, the one nearest the middle of the overlap.
  const earlierSegments = inWindow(earlier.segments, earlier.startInSeconds, overlapStart, overlapEnd);
  const laterSegments = inWindow(later.segments, later.startInSeconds, overlapStart, overlapEnd);
  let best: Cut | undefined;
  let bestDistance = Infinity;
  for (const b of laterSegments) {
    const bStart = later.startInSeconds + b.start;
    const text = normalise(b.text);
    if (text === "") continue;
    for (const a of earlierSegments) {
      const aStart = earlier.startInSeconds + a.start;
      if (Math.abs(aStart - bStart) > MATCH_SECONDS || normalise(a.text) !== text) continue;
      const distance = Math.abs(bStart - middle);
      if (distance < bestDistance) {
        bestDistance = distance;
        best = { earlierBefore: a.start, laterFrom: b.start };
      }
    }
  }
  if (best) return best;

  // 2. The longest run of words both transcribed alike; cut at its middle word. Without word
  // timestamps, the segments' words with times spread evenly over each segment: their times are
  // rough, so they match on text anywhere near the overlap, in runs of three or more.
  const timed = earlier.words !== undefined && later.words !== undefined;
  const slack = timed ? MATCH_SECONDS : overlapEnd - overlapStart + ROUGH_SECONDS;
  {
    const a = inWindow(wordsOf(earlier), earlier.startInSeconds, overlapStart, overlapEnd, slack);
    const b = inWindow(wordsOf(later), later.startInSeconds, overlapStart, overlapEnd, slack);
    const run = longestCommonRun(a, b, earlier.startInSeconds, later.startInSeconds, slack);
    if (run && run.length >= (timed ? 1 : 3)) {
      const k = Math.floor(run.length / 2);
      return { earlierBefore: a[run.a + k]!.start, laterFrom: b[run.b + k]!.start };
    }
  }

  // 3. Nothing in common: split the overlap in the middle.
  return { earlierBefore: toEarlier(middle), laterFrom: toLater(middle) };
}

/** Items (chunk-relative times) that start inside [from, to] of the recording, `slack` either side. */
function inWindow<T extends { start: number }>(
  items: readonly T[],
  chunkStart: number,
  from: number,
  to: number,
  slack = MATCH_SECONDS,
): T[] {
  return items.filter((item) => chunkStart + item.start >= from - slack && chunkStart + item.start <= to + slack);
}

/** The chunk's words: Whisper's when it gave them, else each segment's words spread evenly over it. */
function wordsOf(chunk: ChunkTranscript): readonly WhisperWord[] {
  if (chunk.words) return chunk.words;
  const words: WhisperWord[] = [];
  for (const segment of chunk.segments) {
    const texts = segment.text.trim().split(/\s+/).filter(Boolean);
    const step = (segment.end - segment.start) / Math.max(1, texts.length);
    texts.forEach((word, i) => words.push({ word, start: segment.start + i * step, end: segment.start + (i + 1) * step }));
  }
  return words;
}

/** The longest run of consecutive words equal in both lists (text and time), by dynamic programming. */
function longestCommonRun(
  a: readonly WhisperWord[],
  b: readonly WhisperWord[],
  aStart: number,
  bStart: number,
  slack = MATCH_SECONDS,
): { a: number; b: number; length: number } | undefined {
  let best: { a: number; b: number; length: number } | undefined;
  let previous = new Uint16Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const current = new Uint16Array(b.length + 1);
    const wa = a[i - 1]!;
    for (let j = 1; j <= b.length; j++) {
      const wb = b[j - 1]!;
      if (
        normalise(wa.word) !== "" &&
        normalise(wa.word) === normalise(wb.word) &&
        Math.abs(aStart + wa.start - (bStart + wb.start)) <= slack
      ) {
        current[j] = previous[j - 1]! + 1;
        if (!best || current[j]! > best.length) best = { a: i - current[j]!, b: j - current[j]!, length: current[j]! };
      }
    }
    previous = current;
  }
  return best;
}

/**
 * The chunk with only the words starting in [from, before) and the segments in that window: a
 * segment across `from` or `before` keeps only its words inside (Whisper's words, or its text's
 * words spread evenly over it). The text is rebuilt from the segments kept.
 */
function keepBetween(chunk: ChunkTranscript, from: number, before: number): ChunkTranscript {
  const inside = (t: number) => t >= from && t < before;
  const words = chunk.words?.filter((w) => inside(w.start));
  const splitBy = wordsOf(chunk).filter((w) => inside(w.start));
  const segments: WhisperSegment[] = [];
  for (const segment of chunk.segments) {
    if (inside(segment.start) && segment.end <= before) {
      segments.push(segment);
      continue;
    }
    const across = segment.start < before && segment.end > from;
    if (!across) continue;
    if (!chunk.words || chunk.words.length > 0) {
      const own = splitBy.filter((w) => w.start >= segment.start && w.start < segment.end);
      if (own.length === 0) continue;
      const start = Math.max(segment.start, from);
      const end = Math.min(segment.end, before);
      segments.push({ ...segment, start, end: Math.max(start, end), text: " " + own.map((w) => w.word.trim()).join(" ") });
    } else if (inside((segment.start + segment.end) / 2)) segments.push(segment);
  }
  return {
    ...chunk,
    text: segments
      .map((s) => s.text.trim())
      .filter(Boolean)
      .join(" "),
    segments,
    ...(words ? { words } : {}),
  };
}

/** Lower case, letters and digits only: "Hello," and "hello" are the same word. */
function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, "")
    .replace(/\s+/g, " ")
    .trim();
}

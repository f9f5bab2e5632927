/**
 * Plans the uploads for one audio file: the file itself when it fits under the limit, otherwise
 * WAV and MP3 are cut into chunks at sample-frame / MPEG-frame boundaries, each cut placed in the
 * quietest stretch of the last part of the chunk so words are not split. FLAC, Ogg, WebM and
 * MP4/M4A are cut on packet boundaries and each chunk written as a file of its own (containers/).
 *
 * Chunks reference the blob's bytes with `subarray` (views, not copies); only a WAV chunk's small
 * header is new memory, and the uploader streams the views (whisper.ts), so no chunk is copied.
 */
import { BadInputError } from "../errors.js";
import { SPLITTABLE_FORMATS, type AudioFormat } from "./audio-format.js";
import { parseMp3, type Mp3Info } from "./mp3.js";
import { parseWav, wavHeaderFor, windowLoudness, type WavInfo } from "./wav.js";
import { isContainerFormat } from "./containers/formats.js";

export interface AudioChunk {
  index: number;
  /** Where the chunk starts in the whole recording; segment times are offset by this. */
  startInSeconds: number;
  /**
   * Where it ends, when the format's duration is known from its bytes (all but a file under the
   * limit in a container format). A chunk of lossy audio may start before its predecessor ends:
   * the overlap's repeated words are dropped when stitching (overlap.ts).
   */
  endInSeconds: number | undefined;
  /** The bytes to upload, in order: views into the blob, plus a generated header for WAV chunks; a new file per container chunk. */
  parts: readonly Uint8Array[];
  byteLength: number;
}

export interface AudioPlan {
  format: AudioFormat;
  /** Known from the bytes for WAV, MP3 and split container files; otherwise Whisper reports it. */
  durationInSeconds: number | undefined;
  chunks: AudioChunk[];
}

export interface PlanOptions {
  maxChunkBytes: number;
  /** How far back from the hard limit a cut may move to find quiet. Default 30 s (at most a quarter chunk). */
  searchSeconds?: number;
  /** Length of the quiet stretch looked for; the cut goes in its middle. Default 0.3 s. */
  quietRunSeconds?: number;
  /**
   * Longest chunk in seconds, besides the byte limit: for models that answer text without times
   * (transcription-models.ts), each chunk becomes one timed cue. Cut at quiet stretches like the
   * byte limit's cuts. Undefined: only the byte limit. Formats this planner cannot cut stay whole.
   */
  maxChunkSeconds?: number;
  /** Seconds neighbouring chunks of lossy FLAC/Ogg/WebM/MP4 audio share (containers/plan.ts). Default 4 s. */
  overlapSeconds?: number;
}

/**
 * Validates the audio and plans its uploads.
 * @throws BadInputError for corrupt, truncated or empty WAV/MP3 (from their parsers) and for
 *   corrupt, truncated or unsupported container files over the limit (containers/demux.ts), and
 *   with code `audio_too_large` for a file over the limit that cannot be split, naming the limit
 *   and the formats that can.
 */
export async function planChunks(bytes: Uint8Array, format: AudioFormat, options: PlanOptions): Promise<AudioPlan> {
  const { maxChunkBytes } = options;
  if (format === "wav") {
    const info = parseWav(bytes);
    if (bytes.byteLength <= maxChunkBytes && fitsSeconds(info.durationInSeconds, options))
      return single(bytes, format, info.durationInSeconds);
    if (!info.splittable) throw tooLarge(bytes.byteLength, maxChunkBytes, `compressed WAV (format tag ${info.sampleFormat})`);
    return { format, durationInSeconds: info.durationInSeconds, chunks: splitWav(bytes, info, options) };
  }
  if (format === "mp3" || format === "mpga") {
    const info = parseMp3(bytes);
    if (bytes.byteLength <= maxChunkBytes && fitsSeconds(info.durationInSeconds, options))
      return single(bytes, format, info.durationInSeconds);
    return { format, durationInSeconds: info.durationInSeconds, chunks: splitMp3(bytes, info, options) };
  }
  // Over the byte limit, or asked for a time limit (which only reading the packets can check).
  if (isContainerFormat(format) && (bytes.byteLength > maxChunkBytes || options.maxChunkSeconds !== undefined)) {
    // Loaded on first use: mediabunny stays out of the cold start of every other function.
    const { planContainerChunks } = await import("./containers/plan.js");
    const plan = await planContainerChunks(bytes, format, options);
    // A file within both limits goes as it came, not rewritten.
    if (plan.chunks.length === 1 && bytes.byteLength <= maxChunkBytes) return single(bytes, format, plan.durationInSeconds);
    return { format, ...plan };
  }
  if (bytes.byteLength > maxChunkBytes) throw tooLarge(bytes.byteLength, maxChunkBytes, format.toUpperCase());
  return single(bytes, format, undefined);
}

function fitsSeconds(duration: number, options: PlanOptions): boolean {
  return options.maxChunkSeconds === undefined || duration <= options.maxChunkSeconds;
}

function single(bytes: Uint8Array, format: AudioFormat, duration: number | undefined): AudioPlan {
  return {
    format,
    durationInSeconds: duration,
    chunks: [{ index: 0, startInSeconds: 0, endInSeconds: duration, parts: [bytes], byteLength: bytes.byteLength }],
  };
}

function splitWav(bytes: Uint8Array, info: WavInfo, options: PlanOptions): AudioChunk[] {
  const headerLength = wavHeaderFor(info, 0).byteLength;
  const bytesPerSecond = info.blockAlign * info.sampleRate;
  const byBytes = Math.floor((options.maxChunkBytes - headerLength) / info.blockAlign) * info.blockAlign;
  const bySeconds = options.maxChunkSeconds === undefined ? Infinity : alignDown(options.maxChunkSeconds * bytesPerSecond, info.blockAlign);
  const maxData = Math.min(byBytes, bySeconds);
  if (maxData < info.blockAlign * info.sampleRate) {
    throw new BadInputError(`TRANSCRIPTION_MAX_CHUNK_BYTES (${options.maxChunkBytes}) is too small for one second of this WAV audio.`, {
      code: "audio_too_large",
    });
  }
  const data = bytes.subarray(info.dataOffset, info.dataOffset + info.dataLength);
  const searchBytes = alignDown(
    Math.min(maxData / searchShare(bySeconds < byBytes), (options.searchSeconds ?? 30) * bytesPerSecond),
    info.blockAlign,
  );
  const windowFrames = Math.max(1, Math.round(info.sampleRate * 0.02));
  const runWindows = Math.max(1, Math.round((options.quietRunSeconds ?? 0.3) / 0.02));

  const cuts: number[] = [0];
  let position = 0;
  while (info.dataLength - position > maxData) {
    const hardEnd = position + maxData;
    const searchStart = hardEnd - searchBytes;
    const loudness = windowLoudness(info, data.subarray(searchStart, hardEnd), windowFrames);
    const bestWindow = quietestRunCentre(loudness, runWindows);
    const cut = bestWindow === undefined ? hardEnd : Math.min(hardEnd, searchStart + bestWindow * windowFrames * info.blockAlign);
    cuts.push(cut);
    position = cut;
  }
  cuts.push(info.dataLength);

  const chunks: AudioChunk[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const start = cuts[i]!;
    const end = cuts[i + 1]!;
    const header = wavHeaderFor(info, end - start);
    chunks.push({
      index: i,
      startInSeconds: start / bytesPerSecond,
      endInSeconds: end / bytesPerSecond,
      parts: [header, data.subarray(start, end)],
      byteLength: header.byteLength + end - start,
    });
  }
  return chunks;
}

function splitMp3(bytes: Uint8Array, info: Mp3Info, options: PlanOptions): AudioChunk[] {
  const { frameCount, frameOffsets, frameLengths, frameStarts, frameBits, frameSelfContained } = info;
  const endOf = (frame: number) => frameOffsets[frame]! + frameLengths[frame]!;
  const frameSeconds = info.durationInSeconds / frameCount;
  const runFrames = Math.max(1, Math.round((options.quietRunSeconds ?? 0.3) / frameSeconds));
  const half = Math.floor(runFrames / 2);
  // Prefix sums make each candidate's run cost O(1).
  const bitSums = new Float64Array(frameCount + 1);
  for (let f = 0; f < frameCount; f++) bitSums[f + 1] = bitSums[f]! + frameBits[f]!;
  const runCost = (cut: number) => bitSums[Math.min(frameCount, cut + runFrames - half)]! - bitSums[Math.max(0, cut - half)]!;

  const maxSeconds = options.maxChunkSeconds ?? Infinity;
  const endTime = (frame: number) => (frame + 1 < frameCount ? frameStarts[frame + 1]! : info.durationInSeconds);
  // Frames [first, end) fit in one chunk: under the byte limit and, when given, the time limit.
  const fits = (first: number, end: number) =>
    endOf(end - 1) - frameOffsets[first]! <= options.maxChunkBytes && endTime(end - 1) - frameStarts[first]! <= maxSeconds + 1e-9;
  const cuts: number[] = [0];
  let first = 0;
  while (!fits(first, frameCount)) {
    // The chunk [first, limit) is the longest that fits.
    let limit = first + 1;
    let low = first + 1;
    let high = frameCount;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (fits(first, mid)) {
        limit = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (limit - first < 2)
      throw new BadInputError(`TRANSCRIPTION_MAX_CHUNK_BYTES (${options.maxChunkBytes}) is smaller than one MP3 frame.`, {
        code: "audio_too_large",
      });
    const timeLimited =
      endTime(limit - 1) - frameStarts[first]! > maxSeconds - 1 && endOf(limit) - frameOffsets[first]! <= options.maxChunkBytes;
    const searchFrames = Math.min(
      Math.floor((limit - first) / searchShare(timeLimited)),
      Math.round((options.searchSeconds ?? 30) / frameSeconds),
    );
    let best = limit;
    let bestCost = Infinity;
    for (let cut = limit - searchFrames; cut <= limit; cut++) {
      // A cut at a frame that needs bits from the frame before (bit reservoir) costs that frame a
      // glitch at decode time; prefer frames that stand alone when the audio is equally quiet.
      const cost = runCost(cut) * (frameSelfContained[cut] === 1 ? 1 : 1.05) + (frameSelfContained[cut] === 1 ? 0 : 1);
      if (cost <= bestCost) {
        bestCost = cost;
        best = cut;
      }
    }
    cuts.push(best);
    first = best;
  }
  cuts.push(frameCount);

  const chunks: AudioChunk[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const a = cuts[i]!;
    const b = cuts[i + 1]!;
    const start = frameOffsets[a]!;
    const end = endOf(b - 1);
    chunks.push({
      index: i,
      startInSeconds: frameStarts[a]!,
      endInSeconds: b === frameCount ? info.durationInSeconds : frameStarts[b]!,
      parts: [bytes.subarray(start, end)],
      byteLength: end - start,
    });
  }
  return chunks;
}

/**
 * The part of a chunk, from its end, searched for a quiet cut: a quarter of a chunk cut at the
 * byte limit (minutes long, a pause is near), half of a short piece cut at the time limit
 * (30 s: a sentence can run 10 s without a pause).
 */
function searchShare(timeLimited: boolean): number {
  return timeLimited ? 2 : 4;
}

/** Index (in windows) of the centre of the quietest run of `run` windows; later runs win ties. */
export function quietestRunCentre(loudness: Float64Array, run: number): number | undefined {
  if (loudness.length === 0) return undefined;
  const length = Math.min(run, loudness.length);
  let sum = 0;
  for (let i = 0; i < length; i++) sum += loudness[i]!;
  let best = 0;
  let bestSum = sum;
  for (let start = 1; start + length <= loudness.length; start++) {
    sum += loudness[start + length - 1]! - loudness[start - 1]!;
    // Float drift can leave digital silence at 1e-17 rather than 0; treat near-ties as ties.
    if (sum <= bestSum + 1e-9) {
      if (sum < bestSum) bestSum = sum;
      best = start;
    }
  }
  return best + Math.floor(length / 2);
}

function alignDown(value: number, unit: number): number {
  return Math.floor(value / unit) * unit;
}

function tooLarge(size: number, limit: number, what: string): BadInputError {
  return new BadInputError(
    `The file is ${formatMegabytes(size)}, over the ${formatMegabytes(limit)} upload limit of Azure OpenAI Whisper ` +
      `(TRANSCRIPTION_MAX_CHUNK_BYTES), and ${what} cannot be split. Only ${splittableList()} files are split ` +
      `automatically; convert the recording to one of them, or compress it below the limit.`,
    { code: "audio_too_large" },
  );
}

/** "WAV (PCM), MP3, FLAC, ... and MP4". */
function splittableList(): string {
  const names = SPLITTABLE_FORMATS.map((f) => (f === "wav" ? "WAV (PCM)" : f.toUpperCase()));
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

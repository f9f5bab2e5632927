/**
 * Cuts a short clip [start, end] (seconds) out of an audio file, as a file of the same format: a
 * WAV clip is a fresh header and a view of the sample frames, an MP3 clip the whole MPEG frames
 * that cover the span, a FLAC/Ogg/WebM/MP4 clip the whole packets that cover it in a new file of
 * its container (containers/cut.ts). Used for the known-speaker reference clips of the diarizing model
 * (speakers.ts), which Azure takes as 2-10 s data URLs in any input format, so no re-encoding (and
 * no ffmpeg) is needed: the clip is made of the recording's own bytes.
 */
import { BadInputError } from "../errors.js";
import type { AudioFormat } from "./audio-format.js";
import { CONTAINER_FORMATS, isContainerFormat } from "./containers/formats.js";
import { parseMp3 } from "./mp3.js";
import { parseWav, wavHeaderFor } from "./wav.js";

/** Formats cutAudio can cut. */
export const CUTTABLE_FORMATS: readonly AudioFormat[] = ["wav", "mp3", "mpga", ...CONTAINER_FORMATS];

/**
 * The clip of `bytes` from `start` to `end` seconds (clamped to the recording).
 * @returns the clip's bytes and the span it really covers (MP3 frames round it outwards).
 * @throws BadInputError (`unsupported_audio`) for a format it cannot cut, or an empty span; the
 *   parsers' errors for damaged audio.
 */
export async function cutAudio(
  bytes: Uint8Array,
  format: AudioFormat,
  start: number,
  end: number,
): Promise<{ bytes: Uint8Array; startInSeconds: number; endInSeconds: number }> {
  if (format === "wav") {
    const info = parseWav(bytes);
    if (!info.splittable) throw cannotCut(`compressed WAV (format tag ${info.sampleFormat})`);
    const bytesPerSecond = info.blockAlign * info.sampleRate;
    const from = clampFrame(start, bytesPerSecond, info.blockAlign, info.dataLength);
    const to = clampFrame(end, bytesPerSecond, info.blockAlign, info.dataLength);
    if (to <= from) throw emptySpan(start, end);
    const header = wavHeaderFor(info, to - from);
    const clip = new Uint8Array(header.byteLength + to - from);
    clip.set(header, 0);
    clip.set(bytes.subarray(info.dataOffset + from, info.dataOffset + to), header.byteLength);
    return { bytes: clip, startInSeconds: from / bytesPerSecond, endInSeconds: to / bytesPerSecond };
  }
  if (format === "mp3" || format === "mpga") {
    const info = parseMp3(bytes);
    const { frameCount, frameStarts, frameOffsets, frameLengths } = info;
    let first = 0;
    while (first + 1 < frameCount && frameStarts[first + 1]! <= start) first++;
    let last = first;
    while (last + 1 < frameCount && frameStarts[last + 1]! < end) last++;
    const endInSeconds = last + 1 < frameCount ? frameStarts[last + 1]! : info.durationInSeconds;
    if (endInSeconds <= frameStarts[first]! || end <= start) throw emptySpan(start, end);
    const clip = bytes.slice(frameOffsets[first]!, frameOffsets[last]! + frameLengths[last]!);
    return { bytes: clip, startInSeconds: frameStarts[first]!, endInSeconds };
  }
  if (isContainerFormat(format)) {
    // Loaded on first use, as the container splitter is: mediabunny stays out of cold starts.
    const { cutContainerAudio } = await import("./containers/cut.js");
    return cutContainerAudio(bytes, format, start, end);
  }
  throw cannotCut(format.toUpperCase());
}

function clampFrame(seconds: number, bytesPerSecond: number, blockAlign: number, dataLength: number): number {
  const offset = Math.round((Math.max(0, seconds) * bytesPerSecond) / blockAlign) * blockAlign;
  return Math.min(dataLength, offset);
}

function cannotCut(what: string): BadInputError {
  return new BadInputError(`Clips cannot be cut from ${what} audio; only ${CUTTABLE_FORMATS.join(", ")} can be cut.`, {
    code: "unsupported_audio",
  });
}

function emptySpan(start: number, end: number): BadInputError {
  return new BadInputError(`The clip ${start.toFixed(3)}-${end.toFixed(3)} s holds no audio.`, { code: "invalid_clip" });
}

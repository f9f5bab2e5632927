/**
 * Joins the audio of a text's parts into one playable file, in order, without re-encoding:
 * - WAV: one RIFF header with the summed data length, the parts' PCM samples concatenated;
 * - PCM (raw 16-bit 24 kHz mono): the samples concatenated;
 * - MP3: the parts' audio frames concatenated, dropping every part's ID3 tags and Xing/Info/LAME
 *   header frame (which would state one part's length for the whole file). Each part starts a new
 *   encoder, so its first frame borrows no bits from the frame before: the stream stays valid.
 * At each join of 16-bit PCM the last and first few milliseconds are faded out and in: the parts
 * meet in the pause after a sentence, and a fade there keeps a small offset between the two parts'
 * edge samples from sounding as a click. The length is unchanged (the sum of the parts').
 * FLAC, Opus and AAC are containers or codecs that cannot be joined losslessly by concatenation:
 * they are only ever produced in one part (process-message.ts refuses longer texts in them).
 */
import { BadInputError } from "../errors.js";
import { parseMp3 } from "../transcription/mp3.js";
import { parseWav, wavHeaderFor } from "../transcription/wav.js";
import type { SpeechFormat } from "./message-schema.js";

/** Formats whose parts can be joined here; the others are produced for one-part texts only. */
export const JOINABLE_FORMATS: readonly SpeechFormat[] = ["mp3", "wav", "pcm"];

/** The speech API's raw PCM: 24 kHz, 16-bit little-endian, mono. */
const PCM_SAMPLE_RATE = 24_000;

/** Fade length at each join: short enough to be inaudible as a fade, long enough to hide a step. */
const JOIN_FADE_SECONDS = 0.005;

export interface JoinedAudio {
  audio: Buffer;
  durationInSeconds: number | null;
  /** Each part's duration, in order (null when the format does not say). */
  partDurations: (number | null)[];
}

/**
 * One file from the parts' files.
 * @throws BadInputError (`format_not_joinable`) for several parts in a format that cannot be joined;
 *   AppError `transient` (`corrupt_audio`...) when a part is not valid audio of its format.
 */
export function joinAudio(format: SpeechFormat, parts: readonly Buffer[]): JoinedAudio {
  switch (format) {
    case "wav":
      return joinWav(parts);
    case "pcm": {
      const samples = parts.map((part) => part.subarray(0, part.length - (part.length % 2)));
      const audio = concatenate(new Uint8Array(0), samples);
      fadeJoins(audio, 0, samples, PCM_SAMPLE_RATE, 2);
      const partDurations = samples.map((part) => part.length / 2 / PCM_SAMPLE_RATE);
      return { audio, durationInSeconds: audio.length / 2 / PCM_SAMPLE_RATE, partDurations };
    }
    case "mp3":
      return joinMp3(parts);
    default: {
      if (parts.length !== 1) throw notJoinable(format, parts.length);
      const duration = format === "flac" ? flacDuration(parts[0]!) : null;
      return { audio: parts[0]!, durationInSeconds: duration, partDurations: [duration] };
    }
  }
}

export function notJoinable(format: SpeechFormat, partCount: number): BadInputError {
  return new BadInputError(
    `The text is spoken in ${partCount} parts (one request takes at most 4096 characters), and ${format} audio cannot be joined without re-encoding; ask for mp3, wav or pcm, or send the text in messages of at most 4096 characters`,
    { code: "format_not_joinable", param: "format" },
  );
}

function joinWav(parts: readonly Buffer[]): JoinedAudio {
  const infos = parts.map((part) => parseWav(part));
  const first = infos[0]!;
  for (const [index, info] of infos.entries()) {
    if (
      info.sampleRate !== first.sampleRate ||
      info.channels !== first.channels ||
      info.bitsPerSample !== first.bitsPerSample ||
      info.sampleFormat !== first.sampleFormat
    )
      throw new Error(
        `Speech part ${index + 1} came back as ${info.sampleRate} Hz ${info.channels} ch ${info.bitsPerSample}-bit, unlike part 1`,
      );
  }
  // Views of each part's samples: the only copy made is the joined file itself.
  const data = infos.map((info, index) => parts[index]!.subarray(info.dataOffset, info.dataOffset + info.dataLength));
  const dataLength = data.reduce((sum, part) => sum + part.length, 0);
  const header = wavHeaderFor(first, dataLength);
  const audio = concatenate(header, data);
  if (first.sampleFormat === 1 && first.bitsPerSample === 16) fadeJoins(audio, header.length, data, first.sampleRate, first.channels * 2);
  return {
    audio,
    durationInSeconds: dataLength / first.blockAlign / first.sampleRate,
    partDurations: infos.map((info) => info.durationInSeconds),
  };
}

function joinMp3(parts: readonly Buffer[]): JoinedAudio {
  const frames: Buffer[] = [];
  const partDurations: number[] = [];
  for (const part of parts) {
    const info = parseMp3(part);
    for (let i = 0; i < info.frameCount; i++) {
      const offset = info.frameOffsets[i]!;
      frames.push(part.subarray(offset, offset + info.frameLengths[i]!));
    }
    partDurations.push(info.durationInSeconds);
  }
  return { audio: Buffer.concat(frames), durationInSeconds: partDurations.reduce((sum, d) => sum + d, 0), partDurations };
}

/** `head` then every part, in one buffer allocated once (a long text's audio can be hundreds of MB). */
function concatenate(head: Uint8Array, parts: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(head.length + parts.reduce((sum, part) => sum + part.length, 0));
  out.set(head, 0);
  let offset = head.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Fades 16-bit PCM in place at each join of `parts` as laid out in `audio` from `start`: out at the
 * end of each part but the last, in at the start of each but the first.
 */
function fadeJoins(audio: Buffer, start: number, parts: readonly Uint8Array[], sampleRate: number, frameBytes: number): void {
  if (parts.length < 2) return;
  const fadeFrames = Math.round(sampleRate * JOIN_FADE_SECONDS);
  const channels = frameBytes / 2;
  let partStart = start;
  parts.forEach((part, index) => {
    const frames = Math.floor(part.length / frameBytes);
    const length = Math.min(fadeFrames, Math.floor(frames / 2));
    for (let i = 0; i < length; i++) {
      const gain = i / length;
      for (let channel = 0; channel < channels; channel++) {
        if (index > 0) scale(audio, partStart + i * frameBytes + channel * 2, gain);
        if (index < parts.length - 1) scale(audio, partStart + (frames - 1 - i) * frameBytes + channel * 2, gain);
      }
    }
    partStart += part.length;
  });
}

function scale(buffer: Buffer, offset: number, gain: number): void {
  buffer.writeInt16LE(Math.round(buffer.readInt16LE(offset) * gain), offset);
}

/** Seconds from a FLAC file's STREAMINFO (total samples / sample rate), or null when it does not say. */
function flacDuration(file: Buffer): number | null {
  if (file.length < 42 || file.toString("latin1", 0, 4) !== "fLaC") return null;
  const info = 8;
  const sampleRate = (file[info + 10]! << 12) | (file[info + 11]! << 4) | (file[info + 12]! >> 4);
  const totalSamples = (file[info + 13]! & 0x0f) * 2 ** 32 + file.readUInt32BE(info + 14);
  return sampleRate > 0 && totalSamples > 0 ? totalSamples / sampleRate : null;
}

/**
 * MPEG audio (MP3) frame parsing without decoding: frame positions, durations, and from Layer III
 * side information how many bits each frame spends on audio (`part2_3_length`) and whether it
 * borrows bits from earlier frames (`main_data_begin`, the bit reservoir). Silence costs almost
 * no bits, so a run of cheap frames is a quiet stretch; a frame that borrows nothing is a clean
 * place to start a chunk, because a decoder needs nothing from before it.
 */
import { BadInputError } from "../errors.js";

const SAMPLE_RATES: Record<number, readonly number[]> = {
  3: [44100, 48000, 32000], // MPEG-1
  2: [22050, 24000, 16000], // MPEG-2
  0: [11025, 12000, 8000], // MPEG-2.5
};
// kbps by [MPEG-1?][layer] and bitrate index 1..14.
const BITRATES = {
  v1: {
    1: [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    2: [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    3: [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  },
  v2: {
    1: [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    2: [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    3: [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  },
} as const;

export interface FrameHeader {
  /** 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5 (the header's version bits). */
  version: number;
  layer: 1 | 2 | 3;
  hasCrc: boolean;
  sampleRate: number;
  samples: number;
  length: number;
  channels: number;
}

/** Decodes the 4-byte frame header at `offset`, or returns undefined when it is not one. */
export function readFrameHeader(bytes: Uint8Array, offset: number): FrameHeader | undefined {
  if (offset + 4 > bytes.byteLength) return undefined;
  const b1 = bytes[offset + 1]!;
  const b2 = bytes[offset + 2]!;
  const b3 = bytes[offset + 3]!;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const version = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  const kbps = BITRATES[version === 3 ? "v1" : "v2"][layer][bitrateIndex - 1]!;
  const padding = (b2 >> 1) & 1;
  const bitrate = kbps * 1000;
  let length: number;
  let samples: number;
  if (layer === 1) {
    length = (Math.floor((12 * bitrate) / sampleRate) + padding) * 4;
    samples = 384;
  } else if (layer === 2 || version === 3) {
    length = Math.floor((144 * bitrate) / sampleRate) + padding;
    samples = 1152;
  } else {
    length = Math.floor((72 * bitrate) / sampleRate) + padding;
    samples = 576;
  }
  return { version, layer, hasCrc: (b1 & 1) === 0, sampleRate, samples, length, channels: b3 >> 6 === 3 ? 1 : 2 };
}

export interface Mp3Info {
  /** `mp3` for Layer III; `mpga` for Layer I/II streams (which Whisper also takes). */
  format: "mp3" | "mpga";
  frameCount: number;
  /** Byte offset and length of each audio frame (tags and the Xing/Info frame excluded). */
  frameOffsets: Float64Array;
  frameLengths: Uint32Array;
  /** Start time of each frame in seconds; `durationInSeconds` is where the last one ends. */
  frameStarts: Float64Array;
  /** Bits of audio data in the frame (Layer III), the quietness proxy; the frame length otherwise. */
  frameBits: Uint32Array;
  /** True when the frame's audio data starts inside the frame itself (no bit reservoir use). */
  frameSelfContained: Uint8Array;
  durationInSeconds: number;
  sampleRate: number;
}

/** Bytes of junk between frames tolerated before the file is called corrupt (damaged downloads). */
const MAX_JUNK_RATIO = 0.01;

/**
 * Walks every frame of an MPEG audio file, skipping ID3v2/ID3v1/APE tags and the Xing/Info/VBRI
 * header frame.
 * @throws BadInputError (code `corrupt_audio`, `truncated_audio` or `empty_audio`) when no
 *   consecutive frames are found, the last frame is cut short, or too much of the file is not audio.
 */
export function parseMp3(bytes: Uint8Array): Mp3Info {
  let offset = skipId3v2(bytes, 0);
  const end = audioEnd(bytes);
  const capacity = Math.max(16, Math.ceil((end - offset) / 24));
  let offsets = new Float64Array(capacity);
  let lengths = new Uint32Array(capacity);
  let starts = new Float64Array(capacity);
  let bits = new Uint32Array(capacity);
  let selfContained = new Uint8Array(capacity);
  let count = 0;
  let time = 0;
  let junk = 0;
  let layer: number | undefined;
  let sampleRate = 0;

  while (offset < end) {
    const header = readFrameHeader(bytes, offset);
    if (!header || (layer !== undefined && header.layer !== layer)) {
      const next = resync(bytes, offset + 1, end);
      if (next === undefined) {
        if (count === 0) break;
        junk += end - offset;
        break;
      }
      junk += next - offset;
      offset = next;
      continue;
    }
    if (offset + header.length > end) {
      throw new BadInputError(
        `The MP3 file is truncated: frame ${count + 1} at byte ${offset} needs ${header.length} bytes but the file ends after ${end - offset}. Upload the complete file.`,
        { code: "truncated_audio" },
      );
    }
    if (count === 0 && isInfoFrame(bytes, offset, header)) {
      // The Xing/Info/VBRI frame describes the whole file (frame count, seek table) and decodes to
      // nothing; leaving it out keeps every chunk free of a header that would misstate its length.
      offset += header.length;
      layer = header.layer;
      continue;
    }
    if (count === offsets.length) {
      offsets = grow(offsets);
      lengths = grow(lengths);
      starts = grow(starts);
      bits = grow(bits);
      selfContained = grow(selfContained);
    }
    layer = header.layer;
    sampleRate ||= header.sampleRate;
    const side = header.layer === 3 ? readSideInfo(bytes, offset, header) : { bits: header.length * 8, mainDataBegin: 0 };
    offsets[count] = offset;
    lengths[count] = header.length;
    starts[count] = time;
    bits[count] = side.bits;
    selfContained[count] = side.mainDataBegin === 0 ? 1 : 0;
    time += header.samples / header.sampleRate;
    count++;
    offset += header.length;
  }
  if (count < 2) {
    throw new BadInputError(
      count === 0
        ? "The file looks like MP3 but contains no valid MPEG audio frames; it is corrupt or not audio. Re-export it."
        : "The MP3 file contains a single frame of audio (about 26 ms); upload a longer recording.",
      { code: count === 0 ? "corrupt_audio" : "empty_audio" },
    );
  }
  if (junk > Math.max(4096, bytes.byteLength * MAX_JUNK_RATIO)) {
    throw new BadInputError(`The MP3 file is corrupt: ${junk} of its ${bytes.byteLength} bytes are not MPEG audio frames. Re-export it.`, {
      code: "corrupt_audio",
    });
  }
  return {
    format: layer === 3 ? "mp3" : "mpga",
    frameCount: count,
    frameOffsets: offsets.subarray(0, count),
    frameLengths: lengths.subarray(0, count),
    frameStarts: starts.subarray(0, count),
    frameBits: bits.subarray(0, count),
    frameSelfContained: selfContained.subarray(0, count),
    durationInSeconds: time,
    sampleRate,
  };
}

/** True when two valid, consistent frame headers follow each other at `offset`: a real stream, not chance bytes. */
export function looksLikeMpegAudio(bytes: Uint8Array, offset: number): boolean {
  const first = readFrameHeader(bytes, offset);
  if (!first) return false;
  const next = offset + first.length;
  if (next >= bytes.byteLength) return next === bytes.byteLength || bytes.byteLength - offset < 4096;
  const second = readFrameHeader(bytes, next);
  return second !== undefined && second.layer === first.layer && second.sampleRate === first.sampleRate;
}

/** Length of an ID3v2 tag at `offset` (plus its footer), so parsing starts after it. */
export function skipId3v2(bytes: Uint8Array, offset: number): number {
  while (
    offset + 10 <= bytes.byteLength &&
    bytes[offset] === 0x49 &&
    bytes[offset + 1] === 0x44 &&
    bytes[offset + 2] === 0x33 // "ID3"
  ) {
    const size =
      ((bytes[offset + 6]! & 0x7f) << 21) |
      ((bytes[offset + 7]! & 0x7f) << 14) |
      ((bytes[offset + 8]! & 0x7f) << 7) |
      (bytes[offset + 9]! & 0x7f);
    const hasFooter = (bytes[offset + 5]! & 0x10) !== 0;
    offset += 10 + size + (hasFooter ? 10 : 0);
  }
  return offset;
}

/** Where audio frames end: before a trailing ID3v1 tag ("TAG", 128 bytes) or APE tag footer. */
function audioEnd(bytes: Uint8Array): number {
  let end = bytes.byteLength;
  if (end >= 128 && bytes[end - 128] === 0x54 && bytes[end - 127] === 0x41 && bytes[end - 126] === 0x47) end -= 128;
  if (end >= 32 && String.fromCharCode(...bytes.subarray(end - 32, end - 24)) === "APETAGEX") {
    // The footer's size counts the items and the footer; a header, when flagged, adds 32 bytes.
    const footer = new DataView(bytes.buffer, bytes.byteOffset + end - 32, 32);
    const size = footer.getUint32(12, true);
    const hasHeader = (footer.getUint32(20, true) & 0x80000000) !== 0;
    end = Math.max(0, end - size - (hasHeader ? 32 : 0));
  }
  return end;
}

/** The next offset in [from, end) where a consistent pair of frames starts, scanning at most 64 KB. */
function resync(bytes: Uint8Array, from: number, end: number): number | undefined {
  const limit = Math.min(end, from + 65536);
  for (let i = from; i < limit - 3; i++) {
    if (bytes[i] === 0xff && looksLikeMpegAudio(bytes, i)) return i;
  }
  return undefined;
}

function sideInfoStart(offset: number, header: FrameHeader): number {
  return offset + 4 + (header.hasCrc ? 2 : 0);
}

function sideInfoLength(header: FrameHeader): number {
  if (header.version === 3) return header.channels === 1 ? 17 : 32;
  return header.channels === 1 ? 9 : 17;
}

/** Reads main_data_begin and the summed part2_3_length of every granule and channel. */
function readSideInfo(bytes: Uint8Array, offset: number, header: FrameHeader): { bits: number; mainDataBegin: number } {
  const reader = new BitReader(bytes, sideInfoStart(offset, header));
  const mpeg1 = header.version === 3;
  const mainDataBegin = reader.read(mpeg1 ? 9 : 8);
  reader.skip(mpeg1 ? (header.channels === 1 ? 5 : 3) : header.channels === 1 ? 1 : 2);
  if (mpeg1) reader.skip(4 * header.channels); // scfsi
  const granules = mpeg1 ? 2 : 1;
  const granuleBits = mpeg1 ? 59 : 63;
  let bits = 0;
  for (let g = 0; g < granules; g++) {
    for (let c = 0; c < header.channels; c++) {
      bits += reader.read(12);
      reader.skip(granuleBits - 12);
    }
  }
  return { bits, mainDataBegin };
}

function isInfoFrame(bytes: Uint8Array, offset: number, header: FrameHeader): boolean {
  const xing = sideInfoStart(offset, header) + (header.layer === 3 ? sideInfoLength(header) : 0);
  const tag = String.fromCharCode(...bytes.subarray(xing, xing + 4));
  const vbri = String.fromCharCode(...bytes.subarray(offset + 36, offset + 40));
  return tag === "Xing" || tag === "Info" || vbri === "VBRI";
}

class BitReader {
  private bit = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly start: number,
  ) {}
  read(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) {
      const byte = this.bytes[this.start + (this.bit >> 3)] ?? 0;
      value = (value << 1) | ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return value;
  }
  skip(count: number): void {
    this.bit += count;
  }
}

function grow<T extends Float64Array | Uint32Array | Uint8Array>(array: T): T {
  const bigger = new (array.constructor as new (length: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}

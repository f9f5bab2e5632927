/**
 * WAV (RIFF/WAVE) parsing: enough to find the audio data, its sample layout and its duration, and
 * to build a header for a slice of it. Slices keep the original `fmt ` chunk byte for byte, so
 * extensible and float formats survive a split unchanged.
 */
import { BadInputError } from "../errors.js";

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Data sizes some streaming writers put in the header when they don't know the length yet. */
const UNKNOWN_SIZES = new Set([0, 0xffffffff, 0x7fffffff]);

export interface WavInfo {
  /** 1 = integer PCM, 3 = IEEE float (after resolving WAVE_FORMAT_EXTENSIBLE); other codecs keep their tag. */
  sampleFormat: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Bytes per sample frame (all channels). */
  blockAlign: number;
  /** The `fmt ` chunk as found in the file, header included, reused in slice headers. */
  fmtChunk: Uint8Array;
  /** Where the audio data starts in the file, and how many bytes of whole sample frames it holds. */
  dataOffset: number;
  dataLength: number;
  durationInSeconds: number;
  /** True when the data can be cut at any sample frame boundary (uncompressed PCM or float). */
  splittable: boolean;
}

/**
 * Parses a WAV file's chunks.
 * @throws BadInputError (code `corrupt_audio` or `truncated_audio`) when the header is damaged,
 *   the `fmt ` or `data` chunk is missing, or the data is shorter than the header declares.
 */
export function parseWav(bytes: Uint8Array): WavInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 12 || ascii(bytes, 0, 4) !== "RIFF" || ascii(bytes, 8, 4) !== "WAVE") {
    if (ascii(bytes, 0, 4) === "RF64") {
      throw new BadInputError("RF64 WAV files (over 4 GB) are not supported; export the audio as a standard WAV or MP3", {
        code: "unsupported_audio",
      });
    }
    throw corrupt("the file does not start with a RIFF/WAVE header");
  }
  let fmt: { chunk: Uint8Array; body: DataView } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = ascii(bytes, offset, 4);
    const size = view.getUint32(offset + 4, true);
    const bodyStart = offset + 8;
    if (id === "fmt ") {
      if (size < 16 || bodyStart + size > bytes.byteLength)
        throw truncatedOrCorrupt(bodyStart + size > bytes.byteLength, "the `fmt ` chunk is incomplete");
      fmt = { chunk: bytes.subarray(offset, bodyStart + size), body: new DataView(bytes.buffer, bytes.byteOffset + bodyStart, size) };
    } else if (id === "data") {
      if (!fmt) throw corrupt("the `data` chunk comes before the `fmt ` chunk");
      const available = bytes.byteLength - bodyStart;
      let dataLength = size;
      if (UNKNOWN_SIZES.has(size)) {
        dataLength = available;
      } else if (size > available) {
        throw new BadInputError(
          `The WAV file is truncated: its header declares ${size} bytes of audio but only ${available} are present. Upload the complete file.`,
          { code: "truncated_audio" },
        );
      }
      return describe(fmt.chunk, fmt.body, bodyStart, dataLength);
    }
    // Chunks are padded to an even size.
    offset = bodyStart + size + (size % 2);
  }
  if (!fmt) throw truncatedOrCorrupt(offset > bytes.byteLength || bytes.byteLength < 44, "the `fmt ` chunk is missing");
  throw new BadInputError("The WAV file has no `data` chunk (it is truncated or holds no audio). Upload the complete file.", {
    code: "truncated_audio",
  });
}

function describe(fmtChunk: Uint8Array, fmt: DataView, dataOffset: number, rawDataLength: number): WavInfo {
  let sampleFormat = fmt.getUint16(0, true);
  const channels = fmt.getUint16(2, true);
  const sampleRate = fmt.getUint32(4, true);
  const blockAlign = fmt.getUint16(12, true);
  const bitsPerSample = fmt.getUint16(14, true);
  if (sampleFormat === WAVE_FORMAT_EXTENSIBLE && fmt.byteLength >= 26) {
    // The sub-format GUID starts with the plain format tag.
    sampleFormat = fmt.getUint16(24, true);
  }
  if (channels === 0 || sampleRate === 0 || blockAlign === 0) {
    throw corrupt(`the \`fmt \` chunk is invalid (channels ${channels}, sample rate ${sampleRate}, block align ${blockAlign})`);
  }
  const dataLength = rawDataLength - (rawDataLength % blockAlign);
  if (dataLength === 0) {
    throw new BadInputError("The WAV file contains no audio samples. Upload a recording with sound in it.", { code: "empty_audio" });
  }
  const splittable =
    (sampleFormat === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) ||
    (sampleFormat === WAVE_FORMAT_IEEE_FLOAT && [32, 64].includes(bitsPerSample));
  if (splittable && blockAlign !== (channels * bitsPerSample) / 8) {
    throw corrupt(`block align ${blockAlign} does not match ${channels} channel(s) of ${bitsPerSample}-bit samples`);
  }
  return {
    sampleFormat,
    channels,
    sampleRate,
    bitsPerSample,
    blockAlign,
    fmtChunk,
    dataOffset,
    dataLength,
    durationInSeconds: dataLength / blockAlign / sampleRate,
    splittable,
  };
}

/** A minimal RIFF/WAVE header (RIFF + original `fmt ` + `data` header) for `dataLength` bytes of samples. */
export function wavHeaderFor(info: WavInfo, dataLength: number): Uint8Array {
  const header = new Uint8Array(12 + info.fmtChunk.byteLength + 8);
  const view = new DataView(header.buffer);
  header.set(asciiBytes("RIFF"), 0);
  view.setUint32(4, header.byteLength - 8 + dataLength, true);
  header.set(asciiBytes("WAVE"), 8);
  header.set(info.fmtChunk, 12);
  const dataHeader = 12 + info.fmtChunk.byteLength;
  header.set(asciiBytes("data"), dataHeader);
  view.setUint32(dataHeader + 4, dataLength, true);
  return header;
}

/**
 * Mean absolute amplitude (0 = digital silence, 1 = full scale) of each window of `windowFrames`
 * sample frames in `data`, averaged over channels. Used to find quiet places to cut.
 */
export function windowLoudness(info: WavInfo, data: Uint8Array, windowFrames: number): Float64Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bytesPerSample = info.bitsPerSample / 8;
  const frameCount = Math.floor(data.byteLength / info.blockAlign);
  const windows = new Float64Array(Math.ceil(frameCount / windowFrames));
  const read = sampleReader(info, view);
  // Sampling every channel of every frame is affordable (a 30 s search window of 16 kHz mono is
  // 480k reads) and exact; no decimation tricks needed.
  for (let w = 0; w < windows.length; w++) {
    const first = w * windowFrames;
    const last = Math.min(frameCount, first + windowFrames);
    let sum = 0;
    for (let f = first; f < last; f++) {
      const base = f * info.blockAlign;
      for (let c = 0; c < info.channels; c++) sum += Math.abs(read(base + c * bytesPerSample));
    }
    windows[w] = sum / ((last - first) * info.channels);
  }
  return windows;
}

function sampleReader(info: WavInfo, view: DataView): (byteOffset: number) => number {
  if (info.sampleFormat === WAVE_FORMAT_IEEE_FLOAT) {
    return info.bitsPerSample === 64 ? (o) => view.getFloat64(o, true) : (o) => view.getFloat32(o, true);
  }
  switch (info.bitsPerSample) {
    case 8:
      return (o) => (view.getUint8(o) - 128) / 128;
    case 16:
      return (o) => view.getInt16(o, true) / 32768;
    case 24:
      return (o) => (view.getUint8(o) | (view.getUint8(o + 1) << 8) | (view.getInt8(o + 2) << 16)) / 8388608;
    default:
      return (o) => view.getInt32(o, true) / 2147483648;
  }
}

function corrupt(reason: string): BadInputError {
  return new BadInputError(`The WAV file is corrupt: ${reason}. Re-export it from the recording tool.`, { code: "corrupt_audio" });
}

function truncatedOrCorrupt(truncated: boolean, reason: string): BadInputError {
  return truncated
    ? new BadInputError(`The WAV file is truncated: ${reason}. Upload the complete file.`, { code: "truncated_audio" })
    : corrupt(reason);
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * MP3 test audio encoded by a pure-JS LAME port. Large files repeat one encoded unit of frames,
 * so a 26 MB MP3 costs one short encode and a memory copy instead of minutes of encoding.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pcm16, type AudioPiece } from "./wav.js";

interface Mp3Encoder {
  encodeBuffer(left: Int16Array, right?: Int16Array): Uint8Array;
  flush(): Uint8Array;
}
type Lame = { Mp3Encoder: new (channels: number, sampleRate: number, kbps: number) => Mp3Encoder };

let lame: Lame | undefined;

/** The package ships only an IIFE bundle that defines a global; evaluate it to get the encoder. */
function loadLame(): Lame {
  if (!lame) {
    const require = createRequire(import.meta.url);
    const source = readFileSync(require.resolve("@breezystack/lamejs"), "utf8");
    lame = new Function(`${source};\nreturn lamejs;`)() as Lame;
  }
  return lame;
}

export interface Mp3Options {
  sampleRate?: number;
  kbps?: number;
}

/** Mono MP3 of the pattern. Durations are whole frames, so allow one frame (<= 72 ms) of slack. */
export function makeMp3(pattern: readonly AudioPiece[], options: Mp3Options = {}): Buffer {
  const sampleRate = options.sampleRate ?? 16000;
  const encoder = new (loadLame().Mp3Encoder)(1, sampleRate, options.kbps ?? 32);
  const samples = pcm16(pattern, sampleRate);
  const parts: Uint8Array[] = [];
  const block = 1152 * 64;
  for (let i = 0; i < samples.length; i += block) parts.push(asBytes(encoder.encodeBuffer(samples.subarray(i, i + block))));
  parts.push(asBytes(encoder.flush()));
  return Buffer.concat(parts);
}

/** The encoder returns Int8Array views; Buffer.concat wants unsigned bytes. */
function asBytes(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Bytes and samples per frame for MPEG-1/2 Layer III headers, to compute exact durations. */
export function mp3FrameCount(bytes: Uint8Array): { frames: number; samplesPerFrame: number; sampleRate: number } {
  const rates: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
  const kbpsV1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
  const kbpsV2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  let offset = 0;
  let frames = 0;
  let samplesPerFrame = 0;
  let sampleRate = 0;
  while (offset + 4 <= bytes.byteLength && bytes[offset] === 0xff) {
    const version = (bytes[offset + 1]! >> 3) & 3;
    const bitrate = (version === 3 ? kbpsV1 : kbpsV2)[bytes[offset + 2]! >> 4]! * 1000;
    sampleRate = rates[version]![(bytes[offset + 2]! >> 2) & 3]!;
    const padding = (bytes[offset + 2]! >> 1) & 1;
    samplesPerFrame = version === 3 ? 1152 : 576;
    offset += Math.floor(((version === 3 ? 144 : 72) * bitrate) / sampleRate) + padding;
    frames++;
  }
  return { frames, samplesPerFrame, sampleRate };
}

/** An MP3 of at least `minBytes`: one encoded unit of the pattern, repeated; with its exact duration. */
export function makeMp3OfSize(
  pattern: readonly AudioPiece[],
  minBytes: number,
  options: Mp3Options = {},
): { bytes: Buffer; durationInSeconds: number; unitSeconds: number } {
  const unit = makeMp3(pattern, options);
  const { frames, samplesPerFrame, sampleRate } = mp3FrameCount(unit);
  const repeat = Math.ceil(minBytes / unit.byteLength);
  const bytes = Buffer.alloc(unit.byteLength * repeat);
  for (let r = 0; r < repeat; r++) unit.copy(bytes, r * unit.byteLength);
  const unitSeconds = (frames * samplesPerFrame) / sampleRate;
  return { bytes, durationInSeconds: repeat * unitSeconds, unitSeconds };
}

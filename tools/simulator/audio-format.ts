/** Audio containers Azure's Whisper accepts, recognised from the bytes. */
export type AudioFormat = "wav" | "mp3" | "flac" | "ogg" | "mp4" | "m4a" | "webm";

export interface AudioInfo {
  format: AudioFormat;
  durationSeconds: number;
  /** True when the container did not say and the duration was estimated from the size. */
  estimated: boolean;
}

/** The bytes look like a known container but cannot be read. */
export class CorruptAudioError extends Error {}

/** Recognises the container from its magic bytes; undefined when it is none of the accepted ones. */
export function detectAudioFormat(b: Buffer): AudioFormat | undefined {
  if (b.length >= 12 && b.toString("latin1", 0, 4) === "RIFF" && b.toString("latin1", 8, 12) === "WAVE") return "wav";
  if (b.length >= 4 && b.toString("latin1", 0, 4) === "fLaC") return "flac";
  if (b.length >= 4 && b.toString("latin1", 0, 4) === "OggS") return "ogg";
  if (b.length >= 4 && b.readUInt32BE(0) === 0x1a45dfa3) return "webm";
  if (b.length >= 12 && b.toString("latin1", 4, 8) === "ftyp") {
    const brand = b.toString("latin1", 8, 12);
    return brand.startsWith("M4A") || brand.startsWith("M4B") ? "m4a" : "mp4";
  }
  if (b.length >= 3 && b.toString("latin1", 0, 3) === "ID3") return "mp3";
  if (
    b.length >= 4 &&
    mp3Header(b, 0) &&
    (() => {
      const h = mp3Header(b, 0)!;
      return h.length + 4 > b.length || mp3Header(b, h.length) !== undefined;
    })()
  )
    return "mp3";
  return undefined;
}

/**
 * The real duration: WAV from its header, MP3 by summing every frame, FLAC from STREAMINFO, Ogg
 * from the last page's granule position, MP4/M4A from `mvhd`, WebM from Info/Duration or, when a
 * recorder left it out, from the last block's timecode.
 * @throws CorruptAudioError when the container cannot be read.
 */
export function audioInfo(b: Buffer): AudioInfo | undefined {
  const format = detectAudioFormat(b);
  if (!format) return undefined;
  switch (format) {
    case "wav":
      return { format, durationSeconds: wavDuration(b), estimated: false };
    case "mp3":
      return { format, durationSeconds: mp3Duration(b), estimated: false };
    case "flac":
      return { format, ...flacDuration(b) };
    case "ogg":
      return { format, durationSeconds: oggDuration(b), estimated: false };
    case "mp4":
    case "m4a":
      return { format, durationSeconds: mp4Duration(b), estimated: false };
    case "webm":
      return { format, ...webmDuration(b) };
  }
}

function corrupt(format: string, why: string): never {
  throw new CorruptAudioError(`${format}: ${why}`);
}

// ---- WAV ----

export interface WavLayout {
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  byteRate: number;
  blockAlign: number;
  audioFormat: number;
  dataOffset: number;
  dataLength: number;
}

/** @throws CorruptAudioError without a usable fmt and data chunk. */
export function parseWav(b: Buffer): WavLayout {
  let fmt: Omit<WavLayout, "dataOffset" | "dataLength"> | undefined;
  let pos = 12;
  while (pos + 8 <= b.length) {
    const id = b.toString("latin1", pos, pos + 4);
    const size = b.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > b.length) corrupt("wav", "fmt chunk too short");
      fmt = {
        audioFormat: b.readUInt16LE(body),
        channels: b.readUInt16LE(body + 2),
        sampleRate: b.readUInt32LE(body + 4),
        byteRate: b.readUInt32LE(body + 8),
        blockAlign: b.readUInt16LE(body + 12),
        bitsPerSample: b.readUInt16LE(body + 14),
      };
      if (!fmt.channels || !fmt.sampleRate || !fmt.byteRate) corrupt("wav", "fmt chunk has zero channels, rate or byte rate");
    } else if (id === "data") {
      if (!fmt) corrupt("wav", "data chunk before fmt chunk");
      // Streaming writers leave the size at 0 or 0xFFFFFFFF: take what is there.
      const available = b.length - body;
      const dataLength = size === 0 || size === 0xffffffff || size > available ? available : size;
      return { ...fmt, dataOffset: body, dataLength };
    }
    pos = body + size + (size & 1);
  }
  return corrupt("wav", fmt ? "no data chunk" : "no fmt chunk");
}

function wavDuration(b: Buffer): number {
  const w = parseWav(b);
  return w.dataLength / w.byteRate;
}

// ---- MP3 ----

const BITRATES: Record<string, number[]> = {
  "1-1": [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  "1-2": [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  "1-3": [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  "2-1": [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  "2-2": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  "2-3": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

export interface Mp3Frame {
  length: number;
  samples: number;
  sampleRate: number;
}

/** Parses the 4-byte MPEG audio frame header at `pos`; undefined if it is not one. */
export function mp3Header(b: Buffer, pos: number): Mp3Frame | undefined {
  if (pos + 4 > b.length) return undefined;
  const b1 = b[pos + 1]!;
  const b2 = b[pos + 2]!;
  if (b[pos] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const version = (b1 >> 3) & 3; // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
  const layer = 4 - ((b1 >> 1) & 3); // 1, 2, 3
  if (version === 1 || layer === 4) return undefined;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const padding = (b2 >> 1) & 1;
  const kbps = BITRATES[`${version === 3 ? 1 : 2}-${layer}`]![bitrateIndex]!;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  let length: number;
  let samples: number;
  if (layer === 1) {
    length = (Math.floor((12 * kbps * 1000) / sampleRate) + padding) * 4;
    samples = 384;
  } else {
    const perFrame = layer === 3 && version !== 3 ? 576 : 1152;
    length = Math.floor(((perFrame / 8) * kbps * 1000) / sampleRate) + padding;
    samples = perFrame;
  }
  return { length, samples, sampleRate };
}

/** Bytes of the ID3v2 tag at the start, if any. */
export function id3v2Length(b: Buffer): number {
  if (b.length < 10 || b.toString("latin1", 0, 3) !== "ID3") return 0;
  const size = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
  return 10 + size + (b[5]! & 0x10 ? 10 : 0);
}

/** Sums frame durations; resynchronises over junk between frames, as decoders do. */
function mp3Duration(b: Buffer): number {
  let pos = id3v2Length(b);
  let seconds = 0;
  let frames = 0;
  while (pos + 4 <= b.length) {
    const h = mp3Header(b, pos);
    // Before the first frame, insist the next header follows too, so stray 0xFF bytes are not taken for one.
    if (h && (frames > 0 || pos + h.length + 4 > b.length || mp3Header(b, pos + h.length))) {
      if (pos + h.length > b.length + 1) break; // a truncated last frame
      seconds += h.samples / h.sampleRate;
      frames++;
      pos += h.length;
      continue;
    }
    if (b.toString("latin1", pos, pos + 3) === "TAG") break;
    pos++;
  }
  if (frames === 0) corrupt("mp3", "no MPEG audio frames");
  return seconds;
}

// ---- FLAC ----

function flacDuration(b: Buffer): { durationSeconds: number; estimated: boolean } {
  if (b.length < 8 + 34) corrupt("flac", "too short for STREAMINFO");
  if ((b[4]! & 0x7f) !== 0) corrupt("flac", "first metadata block is not STREAMINFO");
  const d = 8;
  const sampleRate = (b[d + 10]! << 12) | (b[d + 11]! << 4) | (b[d + 12]! >> 4);
  const channels = ((b[d + 12]! >> 1) & 7) + 1;
  const bits = (((b[d + 12]! & 1) << 4) | (b[d + 13]! >> 4)) + 1;
  const total = (b[d + 13]! & 0x0f) * 2 ** 32 + b.readUInt32BE(d + 14);
  if (!sampleRate) corrupt("flac", "sample rate is zero");
  if (total > 0) return { durationSeconds: total / sampleRate, estimated: false };
  // Unknown length: assume the usual ~60% compression of PCM.
  return { durationSeconds: b.length / (sampleRate * channels * (bits / 8) * 0.6), estimated: true };
}

// ---- Ogg (Vorbis, Opus) ----

function oggDuration(b: Buffer): number {
  if (b.length < 28) corrupt("ogg", "too short");
  const segments = b[26]!;
  const packet = 27 + segments;
  if (packet + 19 > b.length) corrupt("ogg", "first page truncated");
  let rate: number;
  let preSkip = 0;
  if (b.toString("latin1", packet, packet + 8) === "OpusHead") {
    rate = 48000;
    preSkip = b.readUInt16LE(packet + 10);
  } else if (b[packet] === 1 && b.toString("latin1", packet + 1, packet + 7) === "vorbis") {
    rate = b.readUInt32LE(packet + 12);
  } else if (b.toString("latin1", packet, packet + 5) === "\x7fFLAC") {
    const si = packet + 13 + 8;
    rate = (b[si + 10]! << 12) | (b[si + 11]! << 4) | (b[si + 12]! >> 4);
  } else return corrupt("ogg", "unknown codec in the first page");
  if (!rate) corrupt("ogg", "sample rate is zero");
  // The last page's granule position is the stream's length in samples.
  for (let pos = b.lastIndexOf("OggS", b.length - 4, "latin1"); pos >= 0; pos = b.lastIndexOf("OggS", pos - 1, "latin1")) {
    if (pos + 14 > b.length) continue;
    const granule = Number(b.readBigInt64LE(pos + 6));
    if (granule >= 0) return Math.max(0, granule - preSkip) / rate;
    if (pos === 0) break;
  }
  return corrupt("ogg", "no page with a granule position");
}

// ---- MP4 / M4A ----

function mp4Duration(b: Buffer): number {
  const moov = findBox(b, 0, b.length, "moov");
  if (!moov) corrupt("mp4", "no moov box");
  const mvhd = findBox(b, moov.start, moov.end, "mvhd");
  if (!mvhd) corrupt("mp4", "no mvhd box");
  const p = mvhd.start;
  const version = b[p]!;
  if (version === 1) {
    if (p + 32 > b.length) corrupt("mp4", "mvhd truncated");
    const timescale = b.readUInt32BE(p + 20);
    const duration = Number(b.readBigUInt64BE(p + 24));
    if (!timescale) corrupt("mp4", "timescale is zero");
    return duration / timescale;
  }
  if (p + 20 > b.length) corrupt("mp4", "mvhd truncated");
  const timescale = b.readUInt32BE(p + 12);
  const duration = b.readUInt32BE(p + 16);
  if (!timescale) corrupt("mp4", "timescale is zero");
  return duration / timescale;
}

function findBox(b: Buffer, from: number, to: number, type: string): { start: number; end: number } | undefined {
  let pos = from;
  while (pos + 8 <= to) {
    let size = b.readUInt32BE(pos);
    const name = b.toString("latin1", pos + 4, pos + 8);
    let header = 8;
    if (size === 1) {
      if (pos + 16 > to) return undefined;
      size = Number(b.readBigUInt64BE(pos + 8));
      header = 16;
    } else if (size === 0) size = to - pos;
    if (size < header) return undefined;
    if (name === type) return { start: pos + header, end: Math.min(to, pos + size) };
    pos += size;
  }
  return undefined;
}

// ---- WebM / Matroska ----

function vint(b: Buffer, pos: number, keepMarker: boolean): { value: number; length: number; unknown: boolean } | undefined {
  const first = b[pos];
  if (first === undefined || first === 0) return undefined;
  let length = 1;
  while (!(first & (0x80 >> (length - 1)))) length++;
  if (pos + length > b.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + b[pos + i]!;
    if (b[pos + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

const EBML = {
  header: 0x1a45dfa3,
  segment: 0x18538067,
  info: 0x1549a966,
  timecodeScale: 0x2ad7b1,
  duration: 0x4489,
  cluster: 0x1f43b675,
  timecode: 0xe7,
  simpleBlock: 0xa3,
  blockGroup: 0xa0,
  block: 0xa1,
};

function webmDuration(b: Buffer): { durationSeconds: number; estimated: boolean } {
  let scale = 1_000_000; // nanoseconds per timecode unit
  let duration: number | undefined;
  let lastTimecode = -1;
  let sawSegment = false;

  const walk = (from: number, to: number): void => {
    let pos = from;
    while (pos < to) {
      const id = vint(b, pos, true);
      if (!id) return;
      const size = vint(b, pos + id.length, false);
      if (!size) return;
      const body = pos + id.length + size.length;
      const end = size.unknown ? to : Math.min(to, body + size.value);
      switch (id.value) {
        case EBML.segment:
          sawSegment = true;
          walk(body, end);
          break;
        case EBML.info:
          walk(body, end);
          break;
        case EBML.timecodeScale:
          scale = readUint(b, body, end - body);
          break;
        case EBML.duration:
          duration = end - body === 4 ? b.readFloatBE(body) : end - body === 8 ? b.readDoubleBE(body) : undefined;
          break;
        case EBML.cluster:
          // A cluster's timecode comes first; blocks carry 16-bit offsets from it.
          walkCluster(body, end);
          break;
      }
      if (size.unknown && id.value !== EBML.segment && id.value !== EBML.cluster) return;
      pos = size.unknown && id.value === EBML.cluster ? clusterEnd(body, to) : end;
    }
  };

  const clusterEnd = (from: number, to: number): number => {
    // An unknown-size cluster ends where the next cluster starts.
    const marker = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);
    const next = b.indexOf(marker, from);
    return next < 0 || next > to ? to : next;
  };

  const walkCluster = (from: number, to: number, initialTime = 0): void => {
    let pos = from;
    let time = initialTime;
    const end = Math.min(to, clusterEnd(from, to));
    while (pos < end) {
      const id = vint(b, pos, true);
      if (!id) return;
      const size = vint(b, pos + id.length, false);
      if (!size) return;
      const body = pos + id.length + size.length;
      const stop = size.unknown ? end : Math.min(end, body + size.value);
      if (id.value === EBML.timecode) time = readUint(b, body, stop - body);
      else if (id.value === EBML.simpleBlock || id.value === EBML.block) {
        const track = vint(b, body, false);
        if (track && body + track.length + 2 <= b.length) lastTimecode = Math.max(lastTimecode, time + b.readInt16BE(body + track.length));
      } else if (id.value === EBML.blockGroup) {
        walkCluster(body, stop, time);
      }
      pos = stop;
    }
    lastTimecode = Math.max(lastTimecode, time);
  };

  walk(0, b.length);
  if (!sawSegment) corrupt("webm", "no Segment element");
  if (duration !== undefined && duration > 0) return { durationSeconds: (duration * scale) / 1e9, estimated: false };
  if (lastTimecode >= 0) return { durationSeconds: (lastTimecode * scale) / 1e9 + 0.02, estimated: true };
  return corrupt("webm", "neither a Duration nor any block");
}

function readUint(b: Buffer, pos: number, length: number): number {
  let v = 0;
  for (let i = 0; i < length && pos + i < b.length; i++) v = v * 256 + b[pos + i]!;
  return v;
}

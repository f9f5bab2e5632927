/**
 * Audio containers as the simulator's Whisper reads them: which container an upload is (from its
 * magic bytes) and how long it really lasts (from its headers, frames or pages), for the
 * formats Azure's Whisper accepts. The transcription answer and its billing follow the real
 * duration, so an app that splits or trims audio is tested against what it actually sent.
 */

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
export function detectAudioFormat(bytes: Buffer): AudioFormat | undefined {
  if (bytes.length >= 12 && bytes.toString("latin1", 0, 4) === "RIFF" && bytes.toString("latin1", 8, 12) === "WAVE") return "wav";
  if (bytes.length >= 4 && bytes.toString("latin1", 0, 4) === "fLaC") return "flac";
  if (bytes.length >= 4 && bytes.toString("latin1", 0, 4) === "OggS") return "ogg";
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0x1a45dfa3) return "webm";
  if (bytes.length >= 12 && bytes.toString("latin1", 4, 8) === "ftyp") {
    const brand = bytes.toString("latin1", 8, 12);
    return brand.startsWith("M4A") || brand.startsWith("M4B") ? "m4a" : "mp4";
  }
  if (bytes.length >= 3 && bytes.toString("latin1", 0, 3) === "ID3") return "mp3";
  if (
    bytes.length >= 4 &&
    mp3Header(bytes, 0) &&
    (() => {
      const first = mp3Header(bytes, 0)!;
      return first.length + 4 > bytes.length || mp3Header(bytes, first.length) !== undefined;
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
export function audioInfo(bytes: Buffer): AudioInfo | undefined {
  const format = detectAudioFormat(bytes);
  if (!format) return undefined;
  switch (format) {
    case "wav":
      return { format, durationSeconds: wavDuration(bytes), estimated: false };
    case "mp3":
      return { format, durationSeconds: mp3Duration(bytes), estimated: false };
    case "flac":
      return { format, ...flacDuration(bytes) };
    case "ogg":
      return { format, durationSeconds: oggDuration(bytes), estimated: false };
    case "mp4":
    case "m4a":
      return { format, durationSeconds: mp4Duration(bytes), estimated: false };
    case "webm":
      return { format, ...webmDuration(bytes) };
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
export function parseWav(bytes: Buffer): WavLayout {
  let fmt: Omit<WavLayout, "dataOffset" | "dataLength"> | undefined;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = bytes.toString("latin1", pos, pos + 4);
    const size = bytes.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > bytes.length) corrupt("wav", "fmt chunk too short");
      fmt = {
        audioFormat: bytes.readUInt16LE(body),
        channels: bytes.readUInt16LE(body + 2),
        sampleRate: bytes.readUInt32LE(body + 4),
        byteRate: bytes.readUInt32LE(body + 8),
        blockAlign: bytes.readUInt16LE(body + 12),
        bitsPerSample: bytes.readUInt16LE(body + 14),
      };
      if (!fmt.channels || !fmt.sampleRate || !fmt.byteRate) corrupt("wav", "fmt chunk has zero channels, rate or byte rate");
    } else if (id === "data") {
      if (!fmt) corrupt("wav", "data chunk before fmt chunk");
      // Streaming writers leave the size at 0 or 0xFFFFFFFF: take what is there.
      const available = bytes.length - body;
      const dataLength = size === 0 || size === 0xffffffff || size > available ? available : size;
      return { ...fmt, dataOffset: body, dataLength };
    }
    pos = body + size + (size & 1);
  }
  return corrupt("wav", fmt ? "no data chunk" : "no fmt chunk");
}

function wavDuration(bytes: Buffer): number {
  const wav = parseWav(bytes);
  return wav.dataLength / wav.byteRate;
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
export function mp3Header(bytes: Buffer, pos: number): Mp3Frame | undefined {
  if (pos + 4 > bytes.length) return undefined;
  const byte1 = bytes[pos + 1]!;
  const byte2 = bytes[pos + 2]!;
  if (bytes[pos] !== 0xff || (byte1 & 0xe0) !== 0xe0) return undefined;
  const version = (byte1 >> 3) & 3; // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
  const layer = 4 - ((byte1 >> 1) & 3); // 1, 2, 3
  if (version === 1 || layer === 4) return undefined;
  const bitrateIndex = byte2 >> 4;
  const rateIndex = (byte2 >> 2) & 3;
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const padding = (byte2 >> 1) & 1;
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
export function id3v2Length(bytes: Buffer): number {
  if (bytes.length < 10 || bytes.toString("latin1", 0, 3) !== "ID3") return 0;
  const size = ((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f);
  return 10 + size + (bytes[5]! & 0x10 ? 10 : 0);
}

/** Sums frame durations; resynchronises over junk between frames, as decoders do. */
function mp3Duration(bytes: Buffer): number {
  let pos = id3v2Length(bytes);
  let seconds = 0;
  let frames = 0;
  while (pos + 4 <= bytes.length) {
    const frame = mp3Header(bytes, pos);
    // Before the first frame, insist the next header follows too, so stray 0xFF bytes are not taken for one.
    if (frame && (frames > 0 || pos + frame.length + 4 > bytes.length || mp3Header(bytes, pos + frame.length))) {
      if (pos + frame.length > bytes.length + 1) break; // a truncated last frame
      seconds += frame.samples / frame.sampleRate;
      frames++;
      pos += frame.length;
      continue;
    }
    if (bytes.toString("latin1", pos, pos + 3) === "TAG") break;
    pos++;
  }
  if (frames === 0) corrupt("mp3", "no MPEG audio frames");
  return seconds;
}

// ---- FLAC ----

function flacDuration(bytes: Buffer): { durationSeconds: number; estimated: boolean } {
  if (bytes.length < 8 + 34) corrupt("flac", "too short for STREAMINFO");
  if ((bytes[4]! & 0x7f) !== 0) corrupt("flac", "first metadata block is not STREAMINFO");
  const streamInfo = 8;
  const sampleRate = (bytes[streamInfo + 10]! << 12) | (bytes[streamInfo + 11]! << 4) | (bytes[streamInfo + 12]! >> 4);
  const channels = ((bytes[streamInfo + 12]! >> 1) & 7) + 1;
  const bits = (((bytes[streamInfo + 12]! & 1) << 4) | (bytes[streamInfo + 13]! >> 4)) + 1;
  const total = (bytes[streamInfo + 13]! & 0x0f) * 2 ** 32 + bytes.readUInt32BE(streamInfo + 14);
  if (!sampleRate) corrupt("flac", "sample rate is zero");
  if (total > 0) return { durationSeconds: total / sampleRate, estimated: false };
  // Unknown length: assume the usual ~60% compression of PCM.
  return { durationSeconds: bytes.length / (sampleRate * channels * (bits / 8) * 0.6), estimated: true };
}

// ---- Ogg (Vorbis, Opus) ----

function oggDuration(bytes: Buffer): number {
  if (bytes.length < 28) corrupt("ogg", "too short");
  const segments = bytes[26]!;
  const packet = 27 + segments;
  if (packet + 19 > bytes.length) corrupt("ogg", "first page truncated");
  let rate: number;
  let preSkip = 0;
  if (bytes.toString("latin1", packet, packet + 8) === "OpusHead") {
    rate = 48000;
    preSkip = bytes.readUInt16LE(packet + 10);
  } else if (bytes[packet] === 1 && bytes.toString("latin1", packet + 1, packet + 7) === "vorbis") {
    rate = bytes.readUInt32LE(packet + 12);
  } else if (bytes.toString("latin1", packet, packet + 5) === "\x7fFLAC") {
    const streamInfo = packet + 13 + 8;
    rate = (bytes[streamInfo + 10]! << 12) | (bytes[streamInfo + 11]! << 4) | (bytes[streamInfo + 12]! >> 4);
  } else return corrupt("ogg", "unknown codec in the first page");
  if (!rate) corrupt("ogg", "sample rate is zero");
  // The last page's granule position is the stream's length in samples.
  for (let pos = bytes.lastIndexOf("OggS", bytes.length - 4, "latin1"); pos >= 0; pos = bytes.lastIndexOf("OggS", pos - 1, "latin1")) {
    if (pos + 14 > bytes.length) continue;
    const granule = Number(bytes.readBigInt64LE(pos + 6));
    if (granule >= 0) return Math.max(0, granule - preSkip) / rate;
    if (pos === 0) break;
  }
  return corrupt("ogg", "no page with a granule position");
}

// ---- MP4 / M4A ----

function mp4Duration(bytes: Buffer): number {
  const moov = findBox(bytes, 0, bytes.length, "moov");
  if (!moov) corrupt("mp4", "no moov box");
  const mvhd = findBox(bytes, moov.start, moov.end, "mvhd");
  if (!mvhd) corrupt("mp4", "no mvhd box");
  const header = mvhd.start;
  const version = bytes[header]!;
  if (version === 1) {
    if (header + 32 > bytes.length) corrupt("mp4", "mvhd truncated");
    const timescale = bytes.readUInt32BE(header + 20);
    const duration = Number(bytes.readBigUInt64BE(header + 24));
    if (!timescale) corrupt("mp4", "timescale is zero");
    return duration / timescale;
  }
  if (header + 20 > bytes.length) corrupt("mp4", "mvhd truncated");
  const timescale = bytes.readUInt32BE(header + 12);
  const duration = bytes.readUInt32BE(header + 16);
  if (!timescale) corrupt("mp4", "timescale is zero");
  return duration / timescale;
}

function findBox(bytes: Buffer, from: number, to: number, type: string): { start: number; end: number } | undefined {
  let pos = from;
  while (pos + 8 <= to) {
    let size = bytes.readUInt32BE(pos);
    const name = bytes.toString("latin1", pos + 4, pos + 8);
    let header = 8;
    if (size === 1) {
      if (pos + 16 > to) return undefined;
      size = Number(bytes.readBigUInt64BE(pos + 8));
      header = 16;
    } else if (size === 0) size = to - pos;
    if (size < header) return undefined;
    if (name === type) return { start: pos + header, end: Math.min(to, pos + size) };
    pos += size;
  }
  return undefined;
}

// ---- WebM / Matroska ----

function vint(bytes: Buffer, pos: number, keepMarker: boolean): { value: number; length: number; unknown: boolean } | undefined {
  const first = bytes[pos];
  if (first === undefined || first === 0) return undefined;
  let length = 1;
  while (!(first & (0x80 >> (length - 1)))) length++;
  if (pos + length > bytes.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[pos + i]!;
    if (bytes[pos + i] !== 0xff) allOnes = false;
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

function webmDuration(bytes: Buffer): { durationSeconds: number; estimated: boolean } {
  let scale = 1_000_000; // nanoseconds per timecode unit
  let duration: number | undefined;
  let lastTimecode = -1;
  let sawSegment = false;

  const walk = (from: number, to: number): void => {
    let pos = from;
    while (pos < to) {
      const id = vint(bytes, pos, true);
      if (!id) return;
      const size = vint(bytes, pos + id.length, false);
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
          scale = readUint(bytes, body, end - body);
          break;
        case EBML.duration:
          duration = end - body === 4 ? bytes.readFloatBE(body) : end - body === 8 ? bytes.readDoubleBE(body) : undefined;
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
    const next = bytes.indexOf(marker, from);
    return next < 0 || next > to ? to : next;
  };

  const walkCluster = (from: number, to: number, initialTime = 0): void => {
    let pos = from;
    let time = initialTime;
    const end = Math.min(to, clusterEnd(from, to));
    while (pos < end) {
      const id = vint(bytes, pos, true);
      if (!id) return;
      const size = vint(bytes, pos + id.length, false);
      if (!size) return;
      const body = pos + id.length + size.length;
      const stop = size.unknown ? end : Math.min(end, body + size.value);
      if (id.value === EBML.timecode) time = readUint(bytes, body, stop - body);
      else if (id.value === EBML.simpleBlock || id.value === EBML.block) {
        const track = vint(bytes, body, false);
        if (track && body + track.length + 2 <= bytes.length)
          lastTimecode = Math.max(lastTimecode, time + bytes.readInt16BE(body + track.length));
      } else if (id.value === EBML.blockGroup) {
        walkCluster(body, stop, time);
      }
      pos = stop;
    }
    lastTimecode = Math.max(lastTimecode, time);
  };

  walk(0, bytes.length);
  if (!sawSegment) corrupt("webm", "no Segment element");
  if (duration !== undefined && duration > 0) return { durationSeconds: (duration * scale) / 1e9, estimated: false };
  if (lastTimecode >= 0) return { durationSeconds: (lastTimecode * scale) / 1e9 + 0.02, estimated: true };
  return corrupt("webm", "neither a Duration nor any block");
}

function readUint(bytes: Buffer, pos: number, length: number): number {
  let value = 0;
  for (let i = 0; i < length && pos + i < bytes.length; i++) value = value * 256 + bytes[pos + i]!;
  return value;
}

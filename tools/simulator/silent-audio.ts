/**
 * Ogg Opus and ADTS AAC for the speech operation's `opus` and `aac` formats. The simulator has no
 * Opus or AAC encoder (none ships as a dependency, and writing one is out of scope), so these carry
 * silence, but as real, decodable streams of the requested length: Opus's well-known 3-byte silent
 * CELT frame in Ogg pages with OpusHead/OpusTags and exact granule positions, and AAC-LC's 4-byte
 * silent single-channel element in ADTS frames. A client that checks headers, walks frames or
 * measures the duration (the simulator's own Whisper does) sees what Azure's audio would give it.
 */

/** A 20 ms mono CELT fullband frame that decodes to silence (TOC 0xF8, then the silence flag). */
const OPUS_SILENT_FRAME = Buffer.from([0xf8, 0xff, 0xfe]);
const OPUS_FRAME_SAMPLES_48K = 960;
/** Decoder delay that encoders announce (libopus's default), trimmed by players. */
const OPUS_PRE_SKIP = 312;
const OPUS_FRAMES_PER_PAGE = 50;

const OGG_CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
    table[byte] = crc >>> 0;
  }
  return table;
})();

function oggCrc(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ OGG_CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

/** One Ogg page holding whole packets (each under 255 bytes, as all of ours are). */
function oggPage(packets: Buffer[], granule: bigint, sequence: number, flags: number, serial: number): Buffer {
  const header = Buffer.alloc(27 + packets.length);
  header.write("OggS", 0, "latin1");
  header[4] = 0; // version
  header[5] = flags; // 0x02 first page, 0x04 last page
  header.writeBigInt64LE(granule, 6);
  header.writeUInt32LE(serial, 14);
  header.writeUInt32LE(sequence, 18);
  header[26] = packets.length;
  packets.forEach((packet, i) => (header[27 + i] = packet.length));
  const page = Buffer.concat([header, ...packets]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

/** Ogg Opus (RFC 7845), mono, input rate 24 kHz, as long as `sampleCount` samples at 24 kHz. */
export function oggOpusSilence(sampleCount: number, sampleRate: number): Buffer {
  const serial = 0x51_4d_55_4c;
  const head = Buffer.alloc(19);
  head.write("OpusHead", 0, "latin1");
  head[8] = 1; // version
  head[9] = 1; // channels
  head.writeUInt16LE(OPUS_PRE_SKIP, 10);
  head.writeUInt32LE(sampleRate, 12);
  head.writeInt16LE(0, 16); // output gain
  head[18] = 0; // channel mapping family
  const vendor = Buffer.from("azure-openai-simulator", "utf8");
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4);
  tags.write("OpusTags", 0, "latin1");
  tags.writeUInt32LE(vendor.length, 8);
  vendor.copy(tags, 12);
  tags.writeUInt32LE(0, 12 + vendor.length);

  const samples48k = Math.round((sampleCount * 48_000) / sampleRate);
  const frameCount = Math.max(1, Math.ceil(samples48k / OPUS_FRAME_SAMPLES_48K));
  const pages = [oggPage([head], 0n, 0, 0x02, serial), oggPage([tags], 0n, 1, 0, serial)];
  for (let first = 0, sequence = 2; first < frameCount; first += OPUS_FRAMES_PER_PAGE, sequence++) {
    const count = Math.min(OPUS_FRAMES_PER_PAGE, frameCount - first);
    const last = first + count >= frameCount;
    // The last page's granule trims the final frame to the real length (RFC 7845 end trimming).
    const granule = OPUS_PRE_SKIP + (last ? samples48k : (first + count) * OPUS_FRAME_SAMPLES_48K);
    pages.push(oggPage(Array(count).fill(OPUS_SILENT_FRAME) as Buffer[], BigInt(granule), sequence, last ? 0x04 : 0, serial));
  }
  return Buffer.concat(pages);
}

/**
 * AAC-LC's silent single channel element: SCE, global_gain 160, one long window with
 * max_sfb 0 (no spectral data), no pulse/TNS/gain control, then END.
 */
const AAC_SILENT_RAW_BLOCK = Buffer.from([0x01, 0x40, 0x20, 0x07]);
const AAC_FRAME_SAMPLES = 1024;
const ADTS_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** ADTS (MPEG-4 AAC-LC, mono, no CRC) frames of silence, as long as `sampleCount` samples. */
export function adtsAacSilence(sampleCount: number, sampleRate: number): Buffer {
  const rateIndex = ADTS_SAMPLE_RATES.indexOf(sampleRate);
  if (rateIndex < 0) throw new Error(`ADTS has no sampling frequency index for ${sampleRate} Hz`);
  const frameLength = 7 + AAC_SILENT_RAW_BLOCK.length;
  const header = Buffer.from([
    0xff,
    0xf1, // syncword, MPEG-4, layer 0, no CRC
    (1 << 6) | (rateIndex << 2) | (1 >> 2), // profile AAC-LC (object type 2 - 1), rate, channel config high bit
    ((1 & 3) << 6) | (frameLength >> 11), // channel config 1 (mono), frame length high bits
    (frameLength >> 3) & 0xff,
    ((frameLength & 7) << 5) | 0x1f, // buffer fullness 0x7FF: variable bit rate
    0xfc, // one raw data block per frame
  ]);
  const frame = Buffer.concat([header, AAC_SILENT_RAW_BLOCK]);
  const frameCount = Math.max(1, Math.ceil(sampleCount / AAC_FRAME_SAMPLES));
  return Buffer.concat(Array(frameCount).fill(frame) as Buffer[]);
}

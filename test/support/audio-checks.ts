/**
 * Independent checks that bytes are audio of a given container, written from the format specs
 * rather than shared with the simulator: RIFF/WAVE headers, MP3 frame sync (or ID3), Ogg pages
 * with their CRC and an OpusHead, FLAC's STREAMINFO, ADTS frames walked end to end, and raw PCM.
 * Each answers the duration it finds, so tests can compare it with what the text should last.
 */

/** What a speech answer's bytes turned out to be. */
export interface AudioCheck {
  durationSeconds: number;
}

const OGG_CRC = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
    table[byte] = crc;
  }
  return table;
})();

function fail(format: string, why: string): never {
  throw new Error(`not valid ${format}: ${why}`);
}

function checkWav(bytes: Buffer): AudioCheck {
  if (bytes.toString("latin1", 0, 4) !== "RIFF" || bytes.toString("latin1", 8, 12) !== "WAVE") fail("wav", "no RIFF/WAVE header");
  if (bytes.toString("latin1", 12, 16) !== "fmt ") fail("wav", "no fmt chunk first");
  const byteRate = bytes.readUInt32LE(28);
  const dataAt = bytes.indexOf("data", 36, "latin1");
  if (dataAt < 0) fail("wav", "no data chunk");
  return { durationSeconds: (bytes.length - dataAt - 8) / byteRate };
}

function checkMp3(bytes: Buffer): AudioCheck {
  let pos = 0;
  if (bytes.toString("latin1", 0, 3) === "ID3")
    pos = 10 + (((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f));
  if (bytes[pos] !== 0xff || (bytes[pos + 1]! & 0xe0) !== 0xe0) fail("mp3", "no frame sync after the (optional) ID3 tag");
  // MPEG-2 Layer III at 24 kHz (what OpenAI's mp3 is): 576 samples per frame; count frames by sync words at frame lengths.
  const bitrates = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  let frames = 0;
  let seconds = 0;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff || (bytes[pos + 1]! & 0xe0) !== 0xe0) fail("mp3", `lost frame sync at byte ${pos}`);
    const version = (bytes[pos + 1]! >> 3) & 3;
    const layer = (bytes[pos + 1]! >> 1) & 3;
    if (version !== 2 || layer !== 1) fail("mp3", "expected MPEG-2 Layer III frames");
    const kbps = bitrates[bytes[pos + 2]! >> 4]!;
    const rate = [22050, 24000, 16000][(bytes[pos + 2]! >> 2) & 3]!;
    const padding = (bytes[pos + 2]! >> 1) & 1;
    pos += Math.floor((72 * kbps * 1000) / rate) + padding;
    frames++;
    seconds += 576 / rate;
  }
  if (frames === 0) fail("mp3", "no frames");
  return { durationSeconds: seconds };
}

function checkOggOpus(bytes: Buffer): AudioCheck {
  let pos = 0;
  let granule = 0n;
  let pages = 0;
  let preSkip = 0;
  while (pos < bytes.length) {
    if (bytes.toString("latin1", pos, pos + 4) !== "OggS") fail("opus", `no OggS capture pattern at byte ${pos}`);
    const segments = bytes[pos + 26]!;
    let length = 27 + segments;
    for (let i = 0; i < segments; i++) length += bytes[pos + 27 + i]!;
    const page = Buffer.from(bytes.subarray(pos, pos + length));
    const stored = page.readUInt32LE(22);
    page.writeUInt32LE(0, 22);
    let crc = 0;
    for (const byte of page) crc = ((crc << 8) ^ OGG_CRC[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
    if (crc !== stored) fail("opus", `page ${pages} CRC mismatch`);
    if (pages === 0) {
      if (page.toString("latin1", 28, 36) !== "OpusHead") fail("opus", "first page is not OpusHead");
      preSkip = page.readUInt16LE(28 + 10);
    }
    granule = page.readBigInt64LE(6);
    pos += length;
    pages++;
  }
  if (pages < 3) fail("opus", "no audio pages");
  return { durationSeconds: (Number(granule) - preSkip) / 48_000 };
}

function checkFlac(bytes: Buffer): AudioCheck {
  if (bytes.toString("latin1", 0, 4) !== "fLaC") fail("flac", "no fLaC marker");
  const info = 8;
  const rate = (bytes[info + 10]! << 12) | (bytes[info + 11]! << 4) | (bytes[info + 12]! >> 4);
  const total = (bytes[info + 13]! & 0x0f) * 2 ** 32 + bytes.readUInt32BE(info + 14);
  if (!rate) fail("flac", "sample rate 0");
  return { durationSeconds: total / rate };
}

function checkAdts(bytes: Buffer): AudioCheck {
  const rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
  let pos = 0;
  let seconds = 0;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0xff || (bytes[pos + 1]! & 0xf6) !== 0xf0) fail("aac", `no ADTS sync at byte ${pos}`);
    const rate = rates[(bytes[pos + 2]! >> 2) & 0x0f];
    if (!rate) fail("aac", "bad sampling frequency index");
    const frameLength = ((bytes[pos + 3]! & 3) << 11) | (bytes[pos + 4]! << 3) | (bytes[pos + 5]! >> 5);
    if (frameLength < 7 || pos + frameLength > bytes.length) fail("aac", `bad frame length at byte ${pos}`);
    seconds += (1024 * ((bytes[pos + 6]! & 3) + 1)) / rate;
    pos += frameLength;
  }
  if (seconds === 0) fail("aac", "no frames");
  return { durationSeconds: seconds };
}

/**
 * Checks `bytes` as audio of `format` (OpenAI's speech formats); pcm is 24 kHz 16-bit mono.
 * @throws Error saying what is wrong.
 */
export function checkAudio(format: "mp3" | "opus" | "aac" | "flac" | "wav" | "pcm", bytes: Buffer): AudioCheck {
  switch (format) {
    case "wav":
      return checkWav(bytes);
    case "mp3":
      return checkMp3(bytes);
    case "opus":
      return checkOggOpus(bytes);
    case "flac":
      return checkFlac(bytes);
    case "aac":
      return checkAdts(bytes);
    case "pcm":
      if (bytes.length % 2) fail("pcm", "odd byte count for 16-bit samples");
      return { durationSeconds: bytes.length / (24_000 * 2) };
  }
}

/**
 * WAV test audio: tones and silence of chosen lengths, generated in memory fast enough for
 * files over 25 MB (a sine table per tone, no per-sample Math.sin).
 */

export type AudioPiece = { tone: number; seconds: number; amplitude?: number } | { silence: number };

export interface WavOptions {
  sampleRate?: number;
  channels?: number;
  /** 16 (default), 8, 24 or 32-bit integer PCM. */
  bitsPerSample?: 8 | 16 | 24 | 32;
}

/** Seconds of audio a piece lasts. */
export function pieceSeconds(piece: AudioPiece): number {
  return "tone" in piece ? piece.seconds : piece.silence;
}

/** Total seconds of a pattern. */
export function patternSeconds(pattern: readonly AudioPiece[]): number {
  return pattern.reduce((sum, piece) => sum + pieceSeconds(piece), 0);
}

/** Int16 mono samples of the pattern, repeated `repeat` times. */
export function pcm16(pattern: readonly AudioPiece[], sampleRate: number, repeat = 1): Int16Array {
  const unitLength = pattern.reduce((sum, piece) => sum + Math.round(pieceSeconds(piece) * sampleRate), 0);
  const samples = new Int16Array(unitLength * repeat);
  let offset = 0;
  for (const piece of pattern) {
    const count = Math.round(pieceSeconds(piece) * sampleRate);
    if ("tone" in piece) {
      const period = Math.max(2, Math.round(sampleRate / piece.tone));
      const table = new Int16Array(period);
      const amplitude = Math.round((piece.amplitude ?? 0.5) * 32767);
      for (let i = 0; i < period; i++) table[i] = Math.round(amplitude * Math.sin((2 * Math.PI * i) / period));
      for (let i = 0; i < count; i++) samples[offset + i] = table[i % period]!;
    }
    offset += count;
  }
  for (let r = 1; r < repeat; r++) samples.copyWithin(r * unitLength, 0, unitLength);
  return samples;
}

/** A complete RIFF/WAVE file holding the pattern `repeat` times. */
export function makeWav(pattern: readonly AudioPiece[], options: WavOptions & { repeat?: number } = {}): Buffer {
  const sampleRate = options.sampleRate ?? 16000;
  const channels = options.channels ?? 1;
  const bits = options.bitsPerSample ?? 16;
  const mono = pcm16(pattern, sampleRate, options.repeat ?? 1);
  const bytesPerSample = bits / 8;
  const dataLength = mono.length * channels * bytesPerSample;
  const file = Buffer.alloc(44 + dataLength);
  file.write("RIFF", 0, "ascii");
  file.writeUInt32LE(36 + dataLength, 4);
  file.write("WAVE", 8, "ascii");
  file.write("fmt ", 12, "ascii");
  file.writeUInt32LE(16, 16);
  file.writeUInt16LE(1, 20);
  file.writeUInt16LE(channels, 22);
  file.writeUInt32LE(sampleRate, 24);
  file.writeUInt32LE(sampleRate * channels * bytesPerSample, 28);
  file.writeUInt16LE(channels * bytesPerSample, 32);
  file.writeUInt16LE(bits, 34);
  file.write("data", 36, "ascii");
  file.writeUInt32LE(dataLength, 40);
  if (bits === 16 && channels === 1) {
    Buffer.from(mono.buffer, mono.byteOffset, mono.byteLength).copy(file, 44);
    return file;
  }
  let offset = 44;
  for (let i = 0; i < mono.length; i++) {
    const value = mono[i]!;
    for (let c = 0; c < channels; c++) {
      if (bits === 8) file.writeUInt8((value >> 8) + 128, offset);
      else if (bits === 16) file.writeInt16LE(value, offset);
      else if (bits === 24) file.writeIntLE(value * 256, offset, 3);
      else file.writeInt32LE(value * 65536, offset);
      offset += bytesPerSample;
    }
  }
  return file;
}

/** A WAV file of at least `minBytes`, made by repeating the pattern; returns its exact duration too. */
export function makeWavOfSize(
  pattern: readonly AudioPiece[],
  minBytes: number,
  options: WavOptions = {},
): { bytes: Buffer; durationInSeconds: number } {
  const sampleRate = options.sampleRate ?? 16000;
  const bytesPerSecond = sampleRate * (options.channels ?? 1) * ((options.bitsPerSample ?? 16) / 8);
  const repeat = Math.ceil(minBytes / (patternSeconds(pattern) * bytesPerSecond));
  const bytes = makeWav(pattern, { ...options, repeat });
  return { bytes, durationInSeconds: (bytes.byteLength - 44) / bytesPerSecond };
}

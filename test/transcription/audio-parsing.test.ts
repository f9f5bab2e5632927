import { describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.js";
import { detectAudioFormat } from "../../src/transcription/audio-format.js";
import { planChunks } from "../../src/transcription/chunk-plan.js";
import { parseMp3 } from "../../src/transcription/mp3.js";
import { parseWav } from "../../src/transcription/wav.js";
import { makeMp3, makeMp3OfSize, mp3FrameCount } from "../support/audio/mp3.js";
import { makeWav, makeWavOfSize, type AudioPiece } from "../support/audio/wav.js";

function failure(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected a failure");
}

describe("format detection from bytes", () => {
  const withHead = (head: number[] | string, size = 64) => {
    const bytes = Buffer.alloc(size);
    (typeof head === "string" ? Buffer.from(head, "latin1") : Buffer.from(head)).copy(bytes);
    return bytes;
  };

  it("recognises every format Whisper accepts", () => {
    expect(detectAudioFormat(makeWav([{ tone: 440, seconds: 0.1 }]))).toBe("wav");
    expect(detectAudioFormat(makeMp3([{ tone: 440, seconds: 0.5 }]))).toBe("mp3");
    expect(detectAudioFormat(withHead("fLaC\0\0\0\x22"))).toBe("flac");
    expect(detectAudioFormat(withHead("OggS\0\x02"))).toBe("ogg");
    expect(detectAudioFormat(withHead([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x84, ...Buffer.from("webm")]))).toBe("webm");
    expect(detectAudioFormat(withHead("\0\0\0\x20ftypM4A \0\0\0\0"))).toBe("m4a");
    expect(detectAudioFormat(withHead("\0\0\0\x20ftypisom\0\0\0\0"))).toBe("mp4");
    expect(detectAudioFormat(withHead([0, 0, 1, 0xba, 0x44]))).toBe("mpeg");
  });

  it("looks past an ID3v2 tag, and ignores the file name entirely", () => {
    const id3 = Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 20, ...new Array(20).fill(0)]);
    expect(detectAudioFormat(Buffer.concat([id3, makeMp3([{ tone: 300, seconds: 0.5 }])]))).toBe("mp3");
  });

  it("rejects empty, non-audio and truncated content with a specific reason", () => {
    expect(failure(() => detectAudioFormat(Buffer.alloc(0)))).toMatchObject({ kind: "bad_input", code: "empty_audio" });
    const pdf = failure(() => detectAudioFormat(withHead("%PDF-1.7\n")));
    expect(pdf).toMatchObject({ kind: "bad_input", code: "unsupported_audio" });
    expect(pdf.message).toContain("PDF");
    expect(pdf.message).toContain("flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm");
    expect(failure(() => detectAudioFormat(Buffer.from("hello, this is a text file\n".repeat(10)))).message).toContain("text");
    expect(failure(() => detectAudioFormat(withHead("RIFF\0\0\0\0AVI LIST"))).code).toBe("unsupported_audio");
  });
});

describe("WAV parsing", () => {
  it("reads layout and duration; rejects truncated and sample-less files", () => {
    const wav = makeWav([{ tone: 440, seconds: 1.5 }], { sampleRate: 8000, channels: 2, bitsPerSample: 24 });
    const info = parseWav(wav);
    expect(info).toMatchObject({ channels: 2, sampleRate: 8000, bitsPerSample: 24, blockAlign: 6, splittable: true });
    expect(info.durationInSeconds).toBeCloseTo(1.5, 6);
    expect(failure(() => parseWav(wav.subarray(0, wav.byteLength - 1000))).code).toBe("truncated_audio");
    expect(failure(() => parseWav(wav.subarray(0, 30))).code).toBe("truncated_audio");
    expect(failure(() => parseWav(makeWav([{ silence: 0 }]))).code).toBe("empty_audio");
  });
});

describe("MP3 parsing", () => {
  it("counts frames and duration exactly, and sees silence as cheap frames", () => {
    const mp3 = makeMp3([{ tone: 440, seconds: 2 }, { silence: 2 }], { sampleRate: 16000, kbps: 32 });
    const info = parseMp3(mp3);
    const { frames, samplesPerFrame, sampleRate } = mp3FrameCount(mp3);
    expect(info.frameCount).toBe(frames);
    expect(info.durationInSeconds).toBeCloseTo((frames * samplesPerFrame) / sampleRate, 9);
    expect(info.durationInSeconds).toBeGreaterThanOrEqual(4);
    const bitsAt = (seconds: number) => info.frameBits[Math.floor((seconds * 16000) / 576)]!;
    expect(bitsAt(1)).toBeGreaterThan(10 * Math.max(1, bitsAt(3)));
  });

  it("rejects a file cut mid-frame as truncated", () => {
    const mp3 = makeMp3([{ tone: 440, seconds: 1 }]);
    expect(failure(() => parseMp3(mp3.subarray(0, mp3.byteLength - 20))).code).toBe("truncated_audio");
  });
});

describe("chunk planning", () => {
  // 8 s of tone then 4 s of silence: a pause inside every search window.
  const speechThenPause: AudioPiece[] = [{ tone: 440, seconds: 8 }, { silence: 4 }];

  it("keeps a file under the limit whole, unchanged", async () => {
    const wav = makeWav([{ tone: 440, seconds: 1 }]);
    const plan = await planChunks(wav, "wav", { maxChunkBytes: 25_000_000 });
    expect(plan.chunks).toHaveLength(1);
    expect(plan.chunks[0]!.parts).toEqual([wav]);
  });

  it("splits a WAV at sample boundaries inside the silences, covering every sample once", async () => {
    const { bytes, durationInSeconds } = makeWavOfSize(speechThenPause, 12_000_000); // ~6.25 min at 16 kHz
    const plan = await planChunks(bytes, "wav", { maxChunkBytes: 2_000_000 });
    expect(plan.chunks.length).toBeGreaterThanOrEqual(6);
    expect(plan.durationInSeconds).toBeCloseTo(durationInSeconds, 6);
    let expectedStart = 0;
    let samples = 0;
    for (const chunk of plan.chunks) {
      expect(chunk.byteLength).toBeLessThanOrEqual(2_000_000);
      expect(chunk.startInSeconds).toBeCloseTo(expectedStart, 9);
      const info = parseWav(Buffer.concat(chunk.parts));
      expect(info.durationInSeconds).toBeCloseTo(chunk.endInSeconds! - chunk.startInSeconds, 9);
      samples += info.dataLength / 2;
      expectedStart = chunk.endInSeconds!;
      if (chunk.index < plan.chunks.length - 1) {
        // Each cut lands in a pause (seconds 8-12 of each 12), not in the tone.
        expect(chunk.endInSeconds! % 12).toBeGreaterThan(8);
      }
      // The data part is a view of the blob, not a copy.
      expect(chunk.parts[1]!.buffer).toBe(bytes.buffer);
    }
    expect(samples).toBe((bytes.byteLength - 44) / 2);
    expect(expectedStart).toBeCloseTo(durationInSeconds, 9);
  });

  it("splits an MP3 at frame boundaries inside the silences", async () => {
    const { bytes, durationInSeconds, unitSeconds } = makeMp3OfSize(speechThenPause, 3_000_000, { sampleRate: 16000, kbps: 32 });
    const plan = await planChunks(bytes, "mp3", { maxChunkBytes: 700_000 });
    expect(plan.chunks.length).toBeGreaterThanOrEqual(5);
    expect(plan.durationInSeconds).toBeCloseTo(durationInSeconds, 6);
    let expectedStart = 0;
    let frames = 0;
    for (const chunk of plan.chunks) {
      expect(chunk.byteLength).toBeLessThanOrEqual(700_000);
      expect(chunk.startInSeconds).toBeCloseTo(expectedStart, 9);
      const info = parseMp3(chunk.parts[0]!);
      expect(info.durationInSeconds).toBeCloseTo(chunk.endInSeconds! - chunk.startInSeconds, 9);
      frames += info.frameCount;
      expectedStart = chunk.endInSeconds!;
      // The encoder pads each repeated unit to whole frames, so the pattern repeats every unitSeconds.
      if (chunk.index < plan.chunks.length - 1) expect(chunk.endInSeconds! % unitSeconds).toBeGreaterThan(8.05);
    }
    expect(frames).toBe(mp3FrameCount(bytes).frames);
  });

  it("refuses other formats over the limit, naming the limit and the splittable formats", async () => {
    // An MPEG program stream (video/mpeg) is the one accepted format no splitter reads.
    const mpeg = Buffer.alloc(300_000);
    mpeg.set([0, 0, 1, 0xba]);
    const error = (await planChunks(mpeg, "mpeg", { maxChunkBytes: 100_000 }).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code?: string };
    expect(error).toMatchObject({ kind: "bad_input", code: "audio_too_large" });
    expect(error.message).toContain("0.1 MB");
    expect(error.message).toMatch(/WAV \(PCM\), MP3, FLAC, OGG, WEBM, M4A and MP4 files are split/);
  });
});

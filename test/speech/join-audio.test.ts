/**
 * Joining a long text's speech parts into one file (src/speech/join-audio.ts), on generated audio:
 * one valid file of the summed length, every sample away from a join exactly as the part had it,
 * and a short fade on both sides of each join (no step a listener would hear as a click).
 */
import { describe, expect, it } from "vitest";
import { joinAudio } from "../../src/speech/join-audio.js";
import { parseWav } from "../../src/transcription/wav.js";
import { makeWav, pcm16 } from "../support/audio/wav.js";

const RATE = 24_000;
/** 5 ms at 24 kHz, the join fade. */
const FADE = 120;

const partA = makeWav([{ tone: 440, seconds: 1, amplitude: 0.5 }], { sampleRate: RATE });
const partB = makeWav([{ tone: 660, seconds: 0.5, amplitude: 0.5 }], { sampleRate: RATE });
const partC = makeWav([{ tone: 550, seconds: 0.75, amplitude: 0.5 }], { sampleRate: RATE });

function samplesOf(wav: Buffer): Int16Array {
  const info = parseWav(wav);
  const data = wav.subarray(info.dataOffset, info.dataOffset + info.dataLength);
  return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

describe("joinAudio", () => {
  it("joins WAV parts into one WAV of the summed length, untouched away from the joins and faded at them", () => {
    const joined = joinAudio("wav", [partA, partB, partC]);
    const info = parseWav(joined.audio);
    expect(info).toMatchObject({ sampleRate: RATE, channels: 1, bitsPerSample: 16 });
    expect(info.durationInSeconds).toBeCloseTo(2.25, 6);
    expect(joined.durationInSeconds).toBeCloseTo(2.25, 6);
    expect(joined.partDurations.map((d) => Number(d!.toFixed(6)))).toEqual([1, 0.5, 0.75]);

    const out = samplesOf(joined.audio);
    const [a, b, c] = [samplesOf(partA), samplesOf(partB), samplesOf(partC)];
    expect(out.length).toBe(a.length + b.length + c.length);
    // Away from the joins: the parts' own samples, in order.
    expect(out.subarray(0, a.length - FADE)).toEqual(a.subarray(0, a.length - FADE));
    expect(out.subarray(a.length + FADE, a.length + b.length - FADE)).toEqual(b.subarray(FADE, b.length - FADE));
    expect(out.subarray(a.length + b.length + FADE)).toEqual(c.subarray(FADE));
    // At each join both edges are faded to silence, and the fade only ever lowers a sample.
    for (const join of [a.length, a.length + b.length]) {
      expect(out[join - 1]).toBe(0);
      expect(out[join]).toBe(0);
    }
    const original = [...a, ...b, ...c];
    expect(out.every((sample, i) => Math.abs(sample) <= Math.abs(original[i]!))).toBe(true);
  });

  it("joins raw PCM the same way, and leaves a single part as it is", () => {
    const first = Buffer.from(pcm16([{ tone: 440, seconds: 0.5 }], RATE).buffer);
    const second = Buffer.from(pcm16([{ tone: 880, seconds: 0.25 }], RATE).buffer);
    const joined = joinAudio("pcm", [first, second]);
    expect(joined.audio.length).toBe(first.length + second.length);
    expect(joined.durationInSeconds).toBeCloseTo(0.75, 6);
    expect(joined.audio.subarray(0, first.length - FADE * 2)).toEqual(first.subarray(0, first.length - FADE * 2));
    expect(joinAudio("wav", [partA]).audio).toEqual(partA);
  });

  it("refuses several parts of a format that cannot be joined without re-encoding", () => {
    expect(() => joinAudio("flac", [partA, partB])).toThrow(/cannot be joined without re-encoding/);
  });
});

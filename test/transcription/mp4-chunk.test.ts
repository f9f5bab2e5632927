/**
 * The direct MP4/M4A chunk writer (src/transcription/containers/mp4-chunk.ts): the file it writes
 * holds the same packets, bytes and times, as the run of the recording it was cut from (read back
 * by mediabunny, as Whisper's side and the simulator read it), with the recording's own codec
 * configuration; and it declines (so mediabunny's muxer writes the chunk) what it does not handle.
 * Skipped without the speech tools, like container-splitting.test.ts; CI sets SPEECH_TOOLS_REQUIRED=1.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readContainerAudio } from "../../src/transcription/containers/demux.js";
import { firstMp4AudioTrack } from "../../src/transcription/containers/mp4-boxes.js";
import { writeMp4Chunk } from "../../src/transcription/containers/mp4-chunk.js";
import { encodeSpeech, missingSpeechTools, removeSpeechFixtures, skipReason, speechToolsRequired } from "../../bench/fixtures/speech.js";

const missing = missingSpeechTools();
if (missing.length > 0 && speechToolsRequired()) {
  it("has the speech fixture tools (SPEECH_TOOLS_REQUIRED is set)", () => {
    throw new Error(`${skipReason(missing)}; SPEECH_TOOLS_REQUIRED is set, so this fails instead of skipping.`);
  });
}

afterAll(() => removeSpeechFixtures());

describe.skipIf(missing.length > 0)("writeMp4Chunk", () => {
  it("writes a run of packets as an M4A with the same packets and times, around a view of the recording", async () => {
    const bytes = readFileSync(encodeSpeech("m4a", 12, 48));
    const audio = await readContainerAudio(bytes, "m4a");
    const track = firstMp4AudioTrack(bytes)!;
    expect(track.sampleCount).toBe(audio.packets.length);
    expect(audio.packets.timestamp(0)).toBeLessThan(0); // the AAC encoder's priming, kept by the first chunk

    for (const [from, to, keepTimes] of [
      [0, 100, true],
      [150, audio.packets.length, false],
      [40, 73, false], // not a whole number of MP4 chunks of 32 samples
    ] as const) {
      const parts = writeMp4Chunk(audio, track, bytes, from, to, keepTimes)!;
      expect(parts).toHaveLength(3);
      expect(parts[1]!.buffer).toBe(bytes.buffer);
      const again = await readContainerAudio(Buffer.concat(parts), "m4a");
      expect(again.codec).toBe("aac");
      expect(again.decoderConfig).toEqual(audio.decoderConfig);
      expect(again.packets.length).toBe(to - from);
      const shift = keepTimes ? 0 : audio.packets.timestamp(from);
      for (let k = 0; k < to - from; k++) {
        expect(again.packets.timestamp(k)).toBeCloseTo(audio.packets.timestamp(from + k) - shift, 6);
        expect(again.packets.duration(k)).toBeCloseTo(audio.packets.duration(from + k), 6);
        expect(Buffer.from(again.packets.data(k)).equals(Buffer.from(audio.packets.data(from + k)))).toBe(true);
      }
      expect(again.durationInSeconds).toBeCloseTo(audio.packets.timestamp(to - 1) + audio.packets.duration(to - 1) - shift, 6);
    }
  });

  it("declines a fragmented MP4 (its samples are in moof boxes, not in the moov's tables)", async () => {
    const whole = encodeSpeech("m4a", 12, 48);
    const fragmented = path.join(os.tmpdir(), `fragmented-${process.pid}.m4a`);
    let bytes: Buffer;
    try {
      execFileSync("ffmpeg", ["-v", "error", "-y", "-i", whole, "-c", "copy", "-movflags", "frag_keyframe+empty_moov", fragmented]);
      bytes = readFileSync(fragmented);
    } finally {
      rmSync(fragmented, { force: true });
    }
    const audio = await readContainerAudio(bytes, "m4a");
    const track = firstMp4AudioTrack(bytes)!;
    expect(track.sampleCount).toBe(0);
    expect(writeMp4Chunk(audio, track, bytes, 0, 100, true)).toBeUndefined();
  });

  it("finds no audio track in a file that is not MP4", () => {
    expect(firstMp4AudioTrack(readFileSync(encodeSpeech("flac", 12, 48)))).toBeUndefined();
  });
});

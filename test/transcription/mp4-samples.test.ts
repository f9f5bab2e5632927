/**
 * The MP4 sample-table reader (src/transcription/containers/mp4-samples.ts): the packets it reads
 * from an M4A's tables are mediabunny's, packet for packet (times, durations, where the bytes lie),
 * and it gives up, leaving the list empty, on tables it does not handle and on a file cut short, so
 * that demux.ts walks the packets with mediabunny (and reports the damage) instead.
 * Skipped without the speech tools, like container-splitting.test.ts; CI sets SPEECH_TOOLS_REQUIRED=1.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ALL_FORMATS, BufferSource, Input } from "mediabunny";
import { afterAll, describe, expect, it } from "vitest";
import { readContainerAudio } from "../../src/transcription/containers/demux.js";
import { eachPacket } from "../../src/transcription/containers/each-packet.js";
import { firstMp4AudioTrack } from "../../src/transcription/containers/mp4-boxes.js";
import { writeMp4Chunk } from "../../src/transcription/containers/mp4-chunk.js";
import { readMp4Samples } from "../../src/transcription/containers/mp4-samples.js";
import { PacketList } from "../../src/transcription/containers/packet-list.js";
import { encodeSpeech, missingSpeechTools, removeSpeechFixtures, skipReason, speechToolsRequired } from "../../bench/fixtures/speech.js";

const missing = missingSpeechTools();
if (missing.length > 0 && speechToolsRequired()) {
  it("has the speech fixture tools (SPEECH_TOOLS_REQUIRED is set)", () => {
    throw new Error(`${skipReason(missing)}; SPEECH_TOOLS_REQUIRED is set, so this fails instead of skipping.`);
  });
}

afterAll(() => removeSpeechFixtures());

/** Every packet as mediabunny's own walk reads it. */
async function mediabunnyPackets(bytes: Uint8Array): Promise<PacketList> {
  const input = new Input({ source: new BufferSource(bytes), formats: ALL_FORMATS });
  try {
    const packets = new PacketList(bytes);
    await eachPacket((await input.getPrimaryAudioTrack())!, (packet) => packets.add(packet));
    return packets;
  } finally {
    input.dispose();
  }
}

/** ffmpeg's remux of the 12 s M4A with `args`, read back. */
function remuxed(args: string[]): Buffer {
  const out = path.join(os.tmpdir(), `remuxed-${process.pid}-${Math.random().toString(36).slice(2)}.m4a`);
  try {
    execFileSync("ffmpeg", ["-v", "error", "-y", "-i", encodeSpeech("m4a", 12, 48), "-c", "copy", ...args, out]);
    return readFileSync(out);
  } finally {
    rmSync(out, { force: true });
  }
}

describe.skipIf(missing.length > 0)("readMp4Samples", () => {
  it.each([
    ["ffmpeg's M4A (an edit list for the encoder's priming)", () => readFileSync(encodeSpeech("m4a", 60, 48))],
    ["one without an edit list", () => remuxed(["-use_editlist", "0"])],
    ["one with its moov first", () => remuxed(["-movflags", "faststart"])],
  ])("reads the packets mediabunny reads from %s", async (_, make) => {
    const bytes = make();
    const expected = await mediabunnyPackets(bytes);
    const packets = new PacketList(bytes);
    expect(readMp4Samples(bytes, firstMp4AudioTrack(bytes)!, packets)).toBe(true);
    expect(packets.length).toBe(expected.length);
    for (let i = 0; i < packets.length; i++) {
      expect(packets.offset(i)).toBe(expected.offset(i));
      expect(packets.byteLength(i)).toBe(expected.byteLength(i));
      expect(packets.timestamp(i)).toBeCloseTo(expected.timestamp(i), 9);
      expect(packets.duration(i)).toBeCloseTo(expected.duration(i), 9);
    }
  });

  it("gives up on a file cut short, and demux.ts still reports it as mediabunny's walk finds it", async () => {
    const whole = remuxed(["-movflags", "faststart"]);
    const cut = whole.subarray(0, Math.floor(whole.byteLength * 0.6));
    const packets = new PacketList(cut);
    expect(readMp4Samples(cut, firstMp4AudioTrack(cut)!, packets)).toBe(false);
    expect(packets.length).toBe(0);
    await expect(readContainerAudio(cut, "m4a")).rejects.toMatchObject({ code: "truncated_audio" });
  });

  it("reads a view into a larger buffer at the view's own offsets", async () => {
    const bytes = readFileSync(encodeSpeech("m4a", 12, 48));
    const padded = Buffer.alloc(bytes.byteLength + 1000);
    bytes.copy(padded, 1000);
    const view = padded.subarray(1000);
    const audio = await readContainerAudio(view, "m4a");
    const expected = await mediabunnyPackets(bytes);
    expect(audio.packets.length).toBe(expected.length);
    expect(Buffer.from(audio.packets.data(5)).equals(Buffer.from(expected.data(5)))).toBe(true);
    // And the chunk writer takes its packets from the same place.
    const chunk = await readContainerAudio(Buffer.concat(writeMp4Chunk(audio, firstMp4AudioTrack(view)!, view, 0, 50, true)!), "m4a");
    expect(chunk.packets.length).toBe(50);
    for (let i = 0; i < 50; i++) expect(Buffer.from(chunk.packets.data(i)).equals(Buffer.from(expected.data(i)))).toBe(true);
  });
});

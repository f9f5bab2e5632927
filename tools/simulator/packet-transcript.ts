/**
 * A transcript made from the encoded packets of a FLAC, Ogg, WebM or MP4/M4A upload, so that the
 * same stretch of audio gets the same words whichever file carries it. An app that cuts a
 * recording into overlapping chunks (copying packets, not re-encoding them) is thus tested on
 * whether it keeps the overlap's words once: both chunks' transcripts hold them, at the same times
 * of the recording.
 *
 * A packet says a word when the hash of its bytes falls under 2.5 x the track's usual packet
 * duration (about 2.5 words a second of speech), at the packet's time; the usual (median)
 * duration, not the packet's own, because containers give the first and last packet of a file
 * shortened durations, and those packets are in the middle of the whole recording; the word, and whether it ends a segment,
 * follow from the same hash. A packet identical to the one before, or of a few bytes (digital
 * silence), says nothing.
 * Nothing depends on a packet's position in the file, only on its bytes and timestamp.
 */
import { createHash } from "node:crypto";
import { ALL_FORMATS, BufferSource, Input } from "mediabunny";
import { eachPacket } from "../../src/transcription/containers/each-packet.js";
import { Random } from "./random.js";
import { CL100K, generateProse } from "./tokens.js";
import type { Segment, Word } from "./transcription.js";

const WORDS_PER_SECOND = 2.5;
/** One word in SEGMENT_EVERY ends a segment (about 1.6 s segments at 2.5 words a second). */
const SEGMENT_EVERY = 4;
const WORD_SECONDS = 0.3;
const SILENT_PACKET_BYTES = 32;

export interface PacketTranscript {
  segments: Segment[];
  words: Word[];
  text: string;
}

const round = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * The transcript of the upload's first audio track, or undefined when the container cannot be read
 * or its packets say (nearly) nothing (under a word per 10 s: e.g. generated silence), in which
 * case the caller's duration-based transcript applies.
 * @param salt what besides the audio varies the words (deployment, seed, language, ...).
 */
export async function packetTranscript(data: Buffer, salt: string, temperature: number): Promise<PacketTranscript | undefined> {
  const input = new Input({ source: new BufferSource(data), formats: ALL_FORMATS });
  const spoken: { word: string; start: number; endsSegment: boolean; hash: Buffer }[] = [];
  let end = 0;
  try {
    const track = await input.getPrimaryAudioTrack();
    if (!track) return undefined;
    const packets: { timestamp: number; duration: number; hash: Buffer; silent: boolean }[] = [];
    // One packet at a time (each-packet.ts: mediabunny's iterator costs seconds per hour of AAC).
    await eachPacket(track, (packet) => {
      end = Math.max(end, packet.timestamp + packet.duration);
      // Near-silent packets (a few bytes: Opus DTX, FLAC constant frames) say nothing, as Whisper
      // says nothing in a pause. Only a packet's first bytes count: mediabunny's FLAC reader folds a
      // last frame under 16 bytes into the frame before it, which must still say the same word.
      const silent = packet.byteLength < SILENT_PACKET_BYTES;
      const hash = createHash("sha256").update(salt).update(packet.data.subarray(0, 64)).digest();
      packets.push({ timestamp: packet.timestamp, duration: packet.duration, hash, silent });
    });
    const usual = packets.map((p) => p.duration).sort((a, b) => a - b)[packets.length >> 1] ?? 0;
    let previous: Buffer | undefined;
    for (const packet of packets) {
      const hash = packet.hash;
      const repeat = previous !== undefined && Buffer.compare(previous, hash) === 0;
      previous = hash;
      if (packet.silent || repeat || hash.readUInt32LE(0) / 2 ** 32 >= WORDS_PER_SECOND * usual) continue;
      const word = generateProse(new Random(hash.subarray(4, 20)), 1)
        .replace(/[^\p{L}]/gu, "")
        .toLowerCase();
      spoken.push({ word, start: Math.max(0, packet.timestamp), endsSegment: hash[20]! % SEGMENT_EVERY === 0, hash });
    }
  } catch {
    return undefined;
  } finally {
    input.dispose();
  }
  if (spoken.length === 0 || spoken.length < end / 10) return undefined;

  const words: Word[] = spoken.map((w, i) => ({
    word: w.word,
    start: round(w.start),
    end: round(Math.min(w.start + WORD_SECONDS, spoken[i + 1]?.start ?? end, end)),
  }));
  const segments: Segment[] = [];
  let first = 0;
  for (let i = 0; i < spoken.length; i++) {
    if (!spoken[i]!.endsSegment && i < spoken.length - 1) continue;
    const run = words.slice(first, i + 1);
    const text = " " + run.map((w) => w.word).join(" ");
    const random = new Random(spoken[first]!.hash.subarray(21, 29));
    segments.push({
      id: segments.length,
      seek: Math.floor(run[0]!.start / 30) * 3000,
      start: run[0]!.start,
      end: run.at(-1)!.end,
      text,
      tokens: CL100K.encode(text),
      temperature,
      avg_logprob: -(0.15 + random.next() * 0.25),
      compression_ratio: 1.2 + random.next() * 0.5,
      no_speech_prob: random.next() * 0.05,
    });
    first = i + 1;
  }
  return {
    segments,
    words,
    text: segments
      .map((s) => s.text)
      .join("")
      .trim(),
  };
}

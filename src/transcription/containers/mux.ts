/**
 * Writes a run of packets read by demux.ts as a complete file of the same container (mediabunny's
 * muxers: headers, sample tables, page granules and durations are written for the new file, the
 * packets' bytes are copied unchanged, nothing is decoded or re-encoded).
 */
import {
  EncodedAudioPacketSource,
  FlacOutputFormat,
  Mp4OutputFormat,
  OggOutputFormat,
  Output,
  StreamTarget,
  WebMOutputFormat,
  type OutputFormat,
  type StreamTargetChunk,
} from "mediabunny";
import type { ContainerAudio, ContainerFormat } from "./demux.js";

function outputFormat(format: ContainerFormat): OutputFormat {
  switch (format) {
    case "flac":
      return new FlacOutputFormat();
    case "ogg":
      return new OggOutputFormat();
    case "webm":
      return new WebMOutputFormat();
    case "m4a":
    case "mp4":
      // Sample tables after the samples: written as the packets stream in, with no second copy held.
      return new Mp4OutputFormat({ fastStart: false });
  }
}

/**
 * The packets [from, to) as a file of `audio`'s container, their times moved so the first starts
 * at 0 (a file that starts later reads as leading silence to some decoders). With `keepTimes` they
 * stay as they were: the first chunk keeps an encoder's priming (a first packet before 0).
 */
export async function writePackets(audio: ContainerAudio, from: number, to: number, keepTimes = false): Promise<Uint8Array> {
  return (await writeInto(new Scratch(), audio, from, to, keepTimes)).slice();
}

/**
 * One growing buffer the muxer writes into, reused for every chunk of a file: a chunk's bytes are
 * copied out of it (or, for the packets' run, taken from the source), so splitting a file leaves
 * no trail of chunk-sized garbage for the collector. mediabunny's BufferTarget would allocate a
 * new buffer, doubling as it grows, and copy it once more when finished, for every chunk.
 */
export class Scratch {
  private bytes = new Uint8Array(0);
  private end = 0;

  /** Starts a new file. */
  reset(): void {
    this.end = 0;
  }

  write(chunk: StreamTargetChunk): void {
    const needed = chunk.position + chunk.data.byteLength;
    if (needed > this.bytes.byteLength) {
      const bigger = new Uint8Array(Math.max(needed, Math.ceil(this.bytes.byteLength * 1.5), 1 << 20));
      bigger.set(this.bytes.subarray(0, this.end));
      this.bytes = bigger;
    }
    this.bytes.set(chunk.data, chunk.position);
    this.end = Math.max(this.end, needed);
  }

  /** The file written since the last reset (a view: copy what must outlive the next chunk). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.end);
  }
}

async function writeInto(scratch: Scratch, audio: ContainerAudio, from: number, to: number, keepTimes: boolean): Promise<Uint8Array> {
  scratch.reset();
  const writable = new WritableStream<StreamTargetChunk>({ write: (chunk) => scratch.write(chunk) });
  const output = new Output({ format: outputFormat(audio.format), target: new StreamTarget(writable) });
  const source = new EncodedAudioPacketSource(audio.codec);
  output.addAudioTrack(source);
  await output.start();
  const shift = keepTimes ? 0 : audio.packets.timestamp(from);
  // The buffer target applies no backpressure: adds are queued in batches rather than awaited one by one.
  let pending: Promise<void>[] = [];
  for (let i = from; i < to; i++) {
    pending.push(source.add(audio.packets.packet(i, shift), i === from ? { decoderConfig: audio.decoderConfig } : undefined));
    if (pending.length === 512) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await output.finalize();
  return scratch.view();
}

/**
 * The same file as writePackets, as parts to upload: where the written file holds the packets'
 * bytes in one run, exactly as they lie in the source (FLAC frames, an MP4's mdat), that run is a
 * view of the source instead of a copy, so a split recording costs little memory beyond its own
 * bytes. Other containers (Ogg pages, WebM blocks interleave headers with the packets) come back
 * as the one written file.
 */
export async function writePacketParts(
  scratch: Scratch,
  audio: ContainerAudio,
  source: Uint8Array,
  from: number,
  to: number,
  keepTimes = false,
): Promise<Uint8Array[]> {
  const file = await writeInto(scratch, audio, from, to, keepTimes);
  const run = contiguousRun(audio, source, from, to);
  if (!run || run.byteLength < 4096) return [file.slice()];
  const head = Buffer.from(run.buffer, run.byteOffset, 64);
  const at = Buffer.from(file.buffer, file.byteOffset, file.byteLength).indexOf(head);
  if (at < 0 || at + run.byteLength > file.byteLength) return [file.slice()];
  if (
    Buffer.compare(
      Buffer.from(file.buffer, file.byteOffset + at, run.byteLength),
      Buffer.from(run.buffer, run.byteOffset, run.byteLength),
    ) !== 0
  )
    return [file.slice()];
  // Copies of the small container parts: the scratch buffer is overwritten by the next chunk.
  return [file.slice(0, at), run, file.slice(at + run.byteLength)];
}

/** The source bytes holding packets [from, to) back to back, when they are views of `source` laid out so. */
function contiguousRun(audio: ContainerAudio, source: Uint8Array, from: number, to: number): Uint8Array | undefined {
  let end: number | undefined;
  let start: number | undefined;
  for (let i = from; i < to; i++) {
    const offset = audio.packets.offset(i);
    if (offset < 0 || (end !== undefined && offset !== end)) return undefined;
    start ??= offset;
    end = offset + audio.packets.byteLength(i);
  }
  if (start === undefined || end === undefined) return undefined;
  return new Uint8Array(source.buffer, start, end - start);
}

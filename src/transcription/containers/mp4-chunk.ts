/**
 * Writes a run of an MP4/M4A recording's audio packets as a chunk file of its own, without
 * mediabunny's muxer: a small head (`ftyp` and the `mdat` header), the packets' bytes as views of
 * the recording, and a `moov` whose sample tables are built from the packet list's typed arrays,
 * with the recording's own sample description (`stsd`: codec and configuration) copied verbatim.
 *
 * Why not mediabunny here: its muxer keeps an object per sample until the file is finalised, and
 * its StreamTarget copies every write (then the writes into a flush buffer, then into ours), so
 * writing 25 MB chunks of a two-hour AAC recording (57,000 packets each) grew the heap and RSS by
 * about the file's size (bench/transcription-formats.ts). This writes nothing but the tables: a
 * few hundred KB per chunk. Anything it does not expect (a fragmented file, packets that are not
 * views of the recording, gaps between packets, a first packet after 0) answers undefined, and the
 * caller uses mediabunny's muxer as before.
 */
import type { ContainerAudio } from "./demux.js";
import type { Mp4AudioTrack } from "./mp4-boxes.js";

/** Samples per MP4 chunk (`stsc`): readers look a sample up by summing the sizes before it in its chunk. */
const SAMPLES_PER_CHUNK = 32;
/** 32-bit sizes and offsets only (`stco`, a 32-bit `mdat`): chunks are tens of MB at most. */
const MAX_32 = 0xffff_ffff;

/**
 * The packets [from, to) as the parts of an MP4 file: [head, ...views of the recording, moov].
 * Times move so the first packet starts at 0, unless `keepTimes` (the first chunk keeps an encoder's
 * priming: a first packet before 0, written as an edit list as the recording has it).
 * @returns undefined when this writer does not handle the run (see the module comment).
 */
export function writeMp4Chunk(
  audio: ContainerAudio,
  track: Mp4AudioTrack,
  source: Uint8Array,
  from: number,
  to: number,
  keepTimes: boolean,
): Uint8Array[] | undefined {
  const { packets } = audio;
  if (track.sampleCount !== packets.length || to <= from) return undefined;
  const count = to - from;
  const scale = track.timescale;
  const units = (seconds: number) => Math.round(seconds * scale);
  const shift = keepTimes ? 0 : packets.timestamp(from);
  const firstTime = units(packets.timestamp(from) - shift);
  if (firstTime > 0) return undefined;

  // Sample durations in the track's units, from the times (the last from its own duration); a gap
  // or overlap between packets is not what a plain sample table says.
  const deltas = new Uint32Array(count);
  const sizes = new Uint32Array(count);
  const views: Uint8Array[] = [];
  let payload = 0;
  for (let k = 0; k < count; k++) {
    const i = from + k;
    const delta = units(packets.duration(i));
    if (i + 1 < to && units(packets.timestamp(i + 1)) - units(packets.timestamp(i)) !== delta) return undefined;
    if (delta < 0) return undefined;
    deltas[k] = delta;
    const offset = packets.offset(i);
    if (offset < 0) return undefined;
    const length = packets.byteLength(i);
    sizes[k] = length;
    payload += length;
    // Packets that lie back to back in the recording (all of them, in a file with one track) are
    // one view. Offsets are into the recording's ArrayBuffer, not from the start of its view.
    const last = views.at(-1);
    if (last && last.byteOffset + last.byteLength === offset)
      views[views.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.byteLength + length);
    else views.push(new Uint8Array(source.buffer, offset, length));
  }
  const mediaDuration = deltas.reduce((sum, d) => sum + d, 0);
  // The edit list skips the priming (a negative first time): what plays is the rest.
  const shownDuration = mediaDuration + firstTime;

  const head = new BoxWriter();
  head.box("ftyp", () => {
    head.fourcc("isom");
    head.u32(0x200);
    head.fourcc("isom");
    head.fourcc("mp41");
  });
  const dataStart = head.length + 8;
  if (dataStart + payload > MAX_32) return undefined;
  head.u32(8 + payload);
  head.fourcc("mdat");

  const chunkCount = Math.ceil(count / SAMPLES_PER_CHUNK);
  const moov = new BoxWriter();
  moov.box("moov", () => {
    moov.fullBox("mvhd", 0, 0, () => {
      moov.u32s(0, 0, scale, shownDuration, 0x0001_0000);
      moov.u16(0x0100);
      moov.zeros(10);
      moov.u32s(...IDENTITY_MATRIX);
      moov.zeros(24);
      moov.u32(2); // next track ID
    });
    moov.box("trak", () => {
      // Flags: enabled, in movie.
      moov.fullBox("tkhd", 0, 3, () => {
        moov.u32s(0, 0, 1, 0, shownDuration, 0, 0);
        moov.u16(0); // layer
        moov.u16(0); // alternate group
        moov.u16(0x0100); // volume
        moov.u16(0);
        moov.u32s(...IDENTITY_MATRIX);
        moov.u32s(0, 0); // width, height
      });
      if (firstTime < 0)
        moov.box("edts", () =>
          moov.fullBox("elst", 0, 0, () => {
            moov.u32s(1, shownDuration, -firstTime);
            moov.u32(0x0001_0000); // rate 1.0
          }),
        );
      moov.box("mdia", () => {
        moov.fullBox("mdhd", 0, 0, () => {
          moov.u32s(0, 0, scale, mediaDuration);
          moov.u16(0x55c4); // language "und"
          moov.u16(0);
        });
        moov.fullBox("hdlr", 0, 0, () => {
          moov.u32(0);
          moov.fourcc("soun");
          moov.zeros(12);
          moov.bytes(new TextEncoder().encode("SoundHandler\0"));
        });
        moov.box("minf", () => {
          moov.fullBox("smhd", 0, 0, () => moov.u32(0));
          moov.box("dinf", () =>
            moov.fullBox("dref", 0, 0, () => {
              moov.u32(1);
              moov.fullBox("url ", 0, 1, () => undefined); // the data is in this file
            }),
          );
          moov.box("stbl", () => {
            moov.bytes(track.sampleDescription);
            moov.fullBox("stts", 0, 0, () => {
              const runs: [number, number][] = [];
              for (const delta of deltas) {
                const run = runs.at(-1);
                if (run && run[1] === delta) run[0]++;
                else runs.push([1, delta]);
              }
              moov.u32(runs.length);
              for (const [samples, delta] of runs) moov.u32s(samples, delta);
            });
            moov.fullBox("stsc", 0, 0, () => {
              const rest = count - (chunkCount - 1) * SAMPLES_PER_CHUNK;
              const entries: [number, number][] = [[1, Math.min(count, SAMPLES_PER_CHUNK)]];
              if (chunkCount > 1 && rest !== SAMPLES_PER_CHUNK) entries.push([chunkCount, rest]);
              moov.u32(entries.length);
              for (const [firstChunk, samples] of entries) moov.u32s(firstChunk, samples, 1);
            });
            moov.fullBox("stsz", 0, 0, () => {
              moov.u32s(0, count);
              for (const size of sizes) moov.u32(size);
            });
            moov.fullBox("stco", 0, 0, () => {
              moov.u32(chunkCount);
              let offset = dataStart;
              for (let k = 0; k < count; k++) {
                if (k % SAMPLES_PER_CHUNK === 0) moov.u32(offset);
                offset += sizes[k]!;
              }
            });
          });
        });
      });
    });
  });
  return [head.finish(), ...views, moov.finish()];
}

const IDENTITY_MATRIX = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] as const;

/** Big-endian box writing into one growing buffer. */
class BoxWriter {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  private at = 0;

  get length(): number {
    return this.at;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buffer.byteLength) return;
    const bigger = new Uint8Array(Math.max(this.at + bytes, this.buffer.byteLength * 2));
    bigger.set(this.buffer.subarray(0, this.at));
    this.buffer = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u16(value: number): void {
    this.room(2);
    this.view.setUint16(this.at, value);
    this.at += 2;
  }

  u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.at, value);
    this.at += 4;
  }

  u32s(...values: number[]): void {
    for (const value of values) this.u32(value);
  }

  zeros(count: number): void {
    this.room(count);
    this.buffer.fill(0, this.at, this.at + count);
    this.at += count;
  }

  bytes(data: Uint8Array): void {
    this.room(data.byteLength);
    this.buffer.set(data, this.at);
    this.at += data.byteLength;
  }

  fourcc(type: string): void {
    this.bytes(new TextEncoder().encode(type));
  }

  box(type: string, body: () => void): void {
    const start = this.at;
    this.u32(0);
    this.fourcc(type);
    body();
    this.view.setUint32(start, this.at - start);
  }

  fullBox(type: string, version: number, flags: number, body: () => void): void {
    this.box(type, () => {
      this.u32((version << 24) | flags);
      body();
    });
  }

  /** The bytes written, at their exact size. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.at);
  }
}

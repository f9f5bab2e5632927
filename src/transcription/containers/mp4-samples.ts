/**
 * Reads an MP4/M4A audio track's packets (times, durations, where their bytes lie) straight from
 * its sample tables (`stts`, `stsc`, `stsz`, `stco`/`co64`, `elst`) into the packet list, in one
 * pass over typed arrays, with the times mediabunny gives the same samples.
 *
 * Why not mediabunny's packet walk (each-packet.ts): it makes an EncodedPacket and a view per
 * sample and, for each, adds up the sizes of the samples before it in its MP4 chunk (ffmpeg writes
 * ~2,570 AAC samples a chunk): for a two-hour AAC recording (284,000 samples) about 1.5-2 s of CPU
 * and a third of the file's size in garbage at the peak (bench/transcription-formats.ts). Tables
 * this reader does not handle (composition offsets, sync-sample tables, compact sizes, several
 * edits, samples past the end of the file, a fragmented file) answer false, and demux.ts walks the
 * packets with mediabunny as before, which also reports a damaged file as it always has.
 */
import { child, type Mp4AudioTrack } from "./mp4-boxes.js";
import type { PacketList } from "./packet-list.js";

/**
 * Appends the track's samples to `packets` (which must be empty).
 * @returns false, leaving `packets` empty, when the tables are not ones this reader handles.
 */
export function readMp4Samples(bytes: Uint8Array, track: Mp4AudioTrack, packets: PacketList): boolean {
  if (packets.length !== 0) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = (type: string) => child(bytes, track.stbl, type);
  // Composition offsets (ctts) make mediabunny time samples in presentation order; audio has none.
  if (table("ctts") || table("stss") || table("stz2")) return false;
  const stts = table("stts");
  const stsc = table("stsc");
  const stsz = table("stsz");
  const stco = table("stco");
  const co64 = table("co64");
  const offsetsBox = stco ?? co64;
  if (!stts || !stsc || !stsz || !offsetsBox) return false;
  const editOffset = editListOffset(bytes, track);
  if (editOffset === undefined) return false;

  // Each table: a full box header (version and flags, 4 bytes), then its entry count.
  const fits = (box: { start: number; end: number }, entries: number, entryBytes: number) =>
    box.start + 8 + entries * entryBytes <= box.end;
  const count = track.sampleCount;
  const fixedSize = view.getUint32(stsz.start + 4);
  if (!fits(stsz, fixedSize === 0 ? count : 0, 4) || stsz.start + 12 > stsz.end) return false;
  const timingEntries = view.getUint32(stts.start + 4);
  const chunkEntries = view.getUint32(stsc.start + 4);
  const chunkCount = view.getUint32(offsetsBox.start + 4);
  if (!fits(stts, timingEntries, 8) || !fits(stsc, chunkEntries, 12) || !fits(offsetsBox, chunkCount, stco ? 4 : 8)) return false;
  let timed = 0;
  for (let e = 0; e < timingEntries; e++) timed += view.getUint32(stts.start + 8 + e * 8);
  // mediabunny gives as many packets as stts times; stsz must size each of them.
  if (timed !== count || count === 0) return false;

  packets.reserve(count);
  const scale = track.timescale;
  const sizeOf = (i: number) => (fixedSize !== 0 ? fixedSize : view.getUint32(stsz.start + 12 + i * 4));
  const chunkOffset = (c: number) =>
    stco ? view.getUint32(offsetsBox.start + 8 + c * 4) : Number(view.getBigUint64(offsetsBox.start + 8 + c * 8));
  let sample = 0;
  let timingEntry = 0;
  let timingLeft = view.getUint32(stts.start + 8);
  let decodeTime = 0;
  for (let e = 0; e < chunkEntries && sample < count; e++) {
    const entryAt = stsc.start + 8 + e * 12;
    const firstChunk = view.getUint32(entryAt) - 1;
    const nextFirstChunk = e + 1 < chunkEntries ? view.getUint32(entryAt + 12) - 1 : chunkCount;
    const samplesPerChunk = view.getUint32(entryAt + 4);
    if (firstChunk < 0 || nextFirstChunk > chunkCount || nextFirstChunk < firstChunk) return abandon(packets);
    for (let c = firstChunk; c < nextFirstChunk && sample < count; c++) {
      let offset = chunkOffset(c);
      for (let k = 0; k < samplesPerChunk && sample < count; k++, sample++) {
        while (timingLeft === 0) {
          timingEntry++;
          timingLeft = view.getUint32(stts.start + 8 + timingEntry * 8);
        }
        const delta = view.getUint32(stts.start + 8 + timingEntry * 8 + 4);
        const size = sizeOf(sample);
        // A sample past the end: a file cut short, which mediabunny's walk reports as such.
        if (offset + size > bytes.byteLength) return abandon(packets);
        packets.append((decodeTime - editOffset) / scale, delta / scale, bytes.byteOffset + offset, size, true);
        offset += size;
        decodeTime += delta;
        timingLeft--;
      }
    }
  }
  return sample === count ? true : abandon(packets);
}

function abandon(packets: PacketList): false {
  packets.clear();
  return false;
}

/**
 * Where the track's presentation starts in its own time units, as mediabunny reads the edit list:
 * the first edit's media time, less the empty edits before it (in the movie's units); 0 without
 * an edit list; undefined for an edit list mediabunny would read otherwise (several edits, a rate
 * other than 1), so its walk is used instead.
 */
function editListOffset(bytes: Uint8Array, track: Mp4AudioTrack): number | undefined {
  const edts = child(bytes, track.trak, "edts");
  const elst = edts && child(bytes, edts, "elst");
  if (!elst) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[elst.start];
  const entryBytes = version === 1 ? 20 : 12;
  const entries = view.getUint32(elst.start + 4);
  if (elst.start + 8 + entries * entryBytes > elst.end) return undefined;
  let empty = 0;
  for (let e = 0; e < entries; e++) {
    const at = elst.start + 8 + e * entryBytes;
    const duration = version === 1 ? Number(view.getBigUint64(at)) : view.getUint32(at);
    const mediaTime = version === 1 ? Number(view.getBigInt64(at + 8)) : view.getInt32(at + 4);
    const rate = view.getInt32(at + entryBytes - 4);
    if (mediaTime === -1) {
      empty += duration;
      continue;
    }
    if (rate !== 0x0001_0000 || e + 1 < entries) return undefined;
    return mediaTime - Math.round((empty / track.movieTimescale) * track.timescale);
  }
  return undefined;
}

/**
 * Just enough ISO BMFF (MP4/M4A) reading to find a recording's first audio track: its timescale,
 * its sample description box (`stsd`, copied verbatim into each chunk by mp4-chunk.ts) and its
 * sample count. mediabunny reads the packets themselves (demux.ts); this only finds the boxes it
 * does not expose, and answers undefined for anything it does not recognise, so the caller falls
 * back to mediabunny's muxer.
 */

export interface Box {
  type: string;
  /** Where the box starts, where its payload (after its header) starts, and where it ends. */
  at: number;
  start: number;
  end: number;
}

/** The boxes directly inside [start, end); stops at the first malformed header. */
function* boxesIn(bytes: Uint8Array, start: number, end: number): Generator<Box> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) return;
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) return;
    yield {
      type: String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!),
      at,
      start: at + header,
      end: at + size,
    };
    at += size;
  }
}

export function child(bytes: Uint8Array, parent: Box, type: string): Box | undefined {
  for (const box of boxesIn(bytes, parent.start, parent.end)) if (box.type === type) return box;
  return undefined;
}

export interface Mp4AudioTrack {
  /** Units per second of the track's sample times (`mdhd`). */
  timescale: number;
  /** The whole `stsd` box, header included: the codec and its configuration, as the recording has them. */
  sampleDescription: Uint8Array;
  /** Samples in the track's `stsz` (0 for a fragmented file, whose samples are in `moof` boxes). */
  sampleCount: number;
  /** Units per second of the movie's times (`mvhd`): an edit list's durations are in them. */
  movieTimescale: number;
  /** The track's box and its sample table box, for mp4-samples.ts. */
  trak: Box;
  stbl: Box;
}

/** The first track whose handler is `soun`, or undefined when the file has none or its boxes are not as expected. */
export function firstMp4AudioTrack(bytes: Uint8Array): Mp4AudioTrack | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const moov = [...boxesIn(bytes, 0, bytes.byteLength)].find((box) => box.type === "moov");
  if (!moov) return undefined;
  for (const trak of boxesIn(bytes, moov.start, moov.end)) {
    if (trak.type !== "trak") continue;
    const mdia = child(bytes, trak, "mdia");
    const hdlr = mdia && child(bytes, mdia, "hdlr");
    // hdlr: version and flags (4), pre_defined (4), handler_type (4).
    if (!mdia || !hdlr || hdlr.start + 12 > hdlr.end) continue;
    if (String.fromCharCode(...bytes.subarray(hdlr.start + 8, hdlr.start + 12)) !== "soun") continue;
    const mdhd = child(bytes, mdia, "mdhd");
    const stbl = child(bytes, child(bytes, mdia, "minf") ?? mdia, "stbl");
    const stsd = stbl && child(bytes, stbl, "stsd");
    const stsz = stbl && child(bytes, stbl, "stsz");
    if (!mdhd || !stsd || !stsz || stsz.start + 12 > stsz.end) return undefined;
    // mdhd version 0: creation and modification times of 4 bytes each before the timescale; version 1: of 8.
    const timescaleAt = mdhd.start + (bytes[mdhd.start] === 1 ? 20 : 12);
    if (timescaleAt + 4 > mdhd.end) return undefined;
    const timescale = view.getUint32(timescaleAt);
    if (timescale === 0) return undefined;
    const sampleDescription = bytes.subarray(stsd.at, stsd.end);
    // mvhd, like mdhd: the timescale after two times of 4 (version 0) or 8 (version 1) bytes.
    const mvhd = child(bytes, moov, "mvhd");
    const movieTimescaleAt = mvhd ? mvhd.start + (bytes[mvhd.start] === 1 ? 20 : 12) : -1;
    if (!mvhd || movieTimescaleAt + 4 > mvhd.end) return undefined;
    const movieTimescale = view.getUint32(movieTimescaleAt);
    return { timescale, sampleDescription, sampleCount: view.getUint32(stsz.start + 8), movieTimescale, trak, stbl };
  }
  return undefined;
}

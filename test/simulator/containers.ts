/** Minimal but well-formed containers of a given duration, for format detection tests. */

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  return Buffer.concat([u32be(8 + body.length), Buffer.from(type, "latin1"), body]);
}

/** MP4/M4A: ftyp, optionally a media box first, then moov/mvhd with the duration. */
export function mp4(seconds: number, brand = "M4A ", mdatBytes = 0): Buffer {
  const timescale = 1000;
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(0, 0); // version 0, flags
  mvhd.writeUInt32BE(timescale, 12);
  mvhd.writeUInt32BE(Math.round(seconds * timescale), 16);
  return Buffer.concat([
    box("ftyp", Buffer.from(brand, "latin1"), u32be(0), Buffer.from("isom", "latin1")),
    ...(mdatBytes ? [box("mdat", Buffer.alloc(mdatBytes))] : []),
    box("moov", box("mvhd", mvhd)),
  ]);
}

function oggPage(granule: bigint, seq: number, packet: Buffer, headerType: number): Buffer {
  const h = Buffer.alloc(27);
  h.write("OggS", 0, "latin1");
  h[5] = headerType;
  h.writeBigInt64LE(granule, 6);
  h.writeUInt32LE(0x1234, 14);
  h.writeUInt32LE(seq, 18);
  const segments: number[] = [];
  let left = packet.length;
  while (left >= 255) {
    segments.push(255);
    left -= 255;
  }
  segments.push(left);
  h[26] = segments.length;
  return Buffer.concat([h, Buffer.from(segments), packet]);
}

/** Ogg Opus: OpusHead, a tags page, audio pages whose last granule gives the length at 48 kHz. */
export function oggOpus(seconds: number): Buffer {
  const preSkip = 312;
  const head = Buffer.alloc(19);
  head.write("OpusHead", 0, "latin1");
  head[8] = 1;
  head[9] = 1;
  head.writeUInt16LE(preSkip, 10);
  head.writeUInt32LE(48000, 12);
  const tags = Buffer.concat([Buffer.from("OpusTags", "latin1"), Buffer.alloc(8)]);
  const end = BigInt(Math.round(seconds * 48000) + preSkip);
  return Buffer.concat([
    oggPage(0n, 0, head, 2),
    oggPage(0n, 1, tags, 0),
    oggPage(end / 2n, 2, Buffer.alloc(300, 7), 0),
    oggPage(end, 3, Buffer.alloc(300, 7), 4),
  ]);
}

function vintSize(n: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x01;
  b.writeUIntBE(n, 2, 6);
  return b;
}

function el(id: number[], ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  return Buffer.concat([Buffer.from(id), vintSize(body.length), body]);
}

function f64(x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b;
}

/** WebM with Info/Duration, or (as browser recorders write it) without, where blocks tell the length. */
export function webm(seconds: number, withDuration = true): Buffer {
  const ebmlHeader = el([0x1a, 0x45, 0xdf, 0xa3], el([0x42, 0x82], Buffer.from("webm")));
  const info = el(
    [0x15, 0x49, 0xa9, 0x66],
    el([0x2a, 0xd7, 0xb1], Buffer.from([0x0f, 0x42, 0x40])),
    ...(withDuration ? [el([0x44, 0x89], f64(seconds * 1000))] : []),
  );
  const block = (rel: number) => {
    const b = Buffer.alloc(4 + 20);
    b[0] = 0x81;
    b.writeInt16BE(rel, 1);
    b[3] = 0x80;
    return el([0xa3], b);
  };
  const lastMs = Math.round(seconds * 1000) - 20;
  const clusterAt = Math.max(0, lastMs - 1000);
  const clusters = [
    el([0x1f, 0x43, 0xb6, 0x75], el([0xe7], Buffer.from([0])), block(0), block(20)),
    el([0x1f, 0x43, 0xb6, 0x75], el([0xe7], u32be(clusterAt)), block(0), block(lastMs - clusterAt)),
  ];
  // Segment of unknown size, as live recorders write it.
  const segment = Buffer.concat([Buffer.from([0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), info, ...clusters]);
  return Buffer.concat([ebmlHeader, segment]);
}

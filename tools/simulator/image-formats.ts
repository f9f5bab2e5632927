/**
 * The image containers the GPT image models answer in (`output_format` png, jpeg, webp), written
 * from an RGB raster without any image library: PNG (lossless, every pixel), baseline JPEG with
 * only DC coefficients (each 8x8 block one colour, so the picture is a mosaic of the raster), and
 * lossless WebP (VP8L) of the raster's average colour, which needs no entropy coding at all. Valid
 * files that decoders open, so code that decodes, re-encodes or stores images runs as on Azure.
 */
import { deflateSync } from "node:zlib";

/** Pixels, 3 bytes (R, G, B) each, row by row. */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Buffer;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    table[byte] = crc;
  }
  return table;
})();

function crc32(bytes: Buffer): number {
  let crc = -1;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A truecolour 8-bit PNG. */
export function pngFile(image: RgbImage): Buffer {
  const { width, height, pixels } = image;
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) pixels.copy(raw, y * stride + 1, y * width * 3, (y + 1) * width * 3); // filter byte 0: none
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(raw, { level: 1 })),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

// ---- JPEG ----

/** The standard luminance DC Huffman table (ITU T.81 K.3): code lengths 1-16, then the categories. */
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/** Canonical Huffman codes from code-length counts, as JPEG builds them. */
function huffmanCodes(bits: number[], values: number[]): Map<number, { code: number; length: number }> {
  const codes = new Map<number, { code: number; length: number }>();
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]!; i++) codes.set(values[k++]!, { code: code++, length });
    code <<= 1;
  }
  return codes;
}

class JpegBits {
  private bytes: number[] = [];
  private current = 0;
  private count = 0;
  write(value: number, length: number): void {
    for (let bit = length - 1; bit >= 0; bit--) {
      this.current = (this.current << 1) | ((value >> bit) & 1);
      if (++this.count === 8) this.flushByte();
    }
  }
  private flushByte(): void {
    this.bytes.push(this.current);
    if (this.current === 0xff) this.bytes.push(0); // byte stuffing
    this.current = 0;
    this.count = 0;
  }
  finish(): Buffer {
    while (this.count !== 0) this.write(1, 1); // pad with ones
    return Buffer.from(this.bytes);
  }
}

function segment(marker: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(marker, 0);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

/**
 * A baseline JFIF JPEG (YCbCr, no subsampling, quantisation 1) whose blocks carry only their DC
 * coefficient: each 8x8 block is the raster's average colour there. One AC table holds only EOB.
 */
export function jpegFile(image: RgbImage): Buffer {
  const { width, height, pixels } = image;
  const dcCodes = huffmanCodes(DC_BITS, DC_VALUES);
  const bits = new JpegBits();
  const previous = [0, 0, 0];
  const blocksX = Math.ceil(width / 8);
  const blocksY = Math.ceil(height / 8);
  for (let by = 0; by < blocksY; by++) {
    for (let bx = 0; bx < blocksX; bx++) {
      const sum = [0, 0, 0];
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          // Edge blocks repeat the last row and column, as encoders pad.
          const offset = (Math.min(by * 8 + y, height - 1) * width + Math.min(bx * 8 + x, width - 1)) * 3;
          const [red, green, blue] = [pixels[offset]!, pixels[offset + 1]!, pixels[offset + 2]!];
          sum[0]! += 0.299 * red + 0.587 * green + 0.114 * blue;
          sum[1]! += -0.168736 * red - 0.331264 * green + 0.5 * blue + 128;
          sum[2]! += 0.5 * red - 0.418688 * green - 0.081312 * blue + 128;
        }
      }
      for (let component = 0; component < 3; component++) {
        // DC of the level-shifted block: 8 × (mean − 128), with quantisation 1.
        const dc = Math.round((sum[component]! / 64 - 128) * 8);
        const diff = dc - previous[component]!;
        previous[component] = dc;
        const magnitude = Math.abs(diff);
        const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1;
        const code = dcCodes.get(category)!;
        bits.write(code.code, code.length);
        if (category > 0) bits.write(diff > 0 ? diff : diff + (1 << category) - 1, category);
        bits.write(0, 1); // AC: EOB, the only symbol of the AC table (code "0")
      }
    }
  }
  const quantisation = Buffer.concat([Buffer.from([0x00]), Buffer.alloc(64, 1)]);
  const frame = Buffer.alloc(6 + 3 * 3);
  frame[0] = 8;
  frame.writeUInt16BE(height, 1);
  frame.writeUInt16BE(width, 3);
  frame[5] = 3;
  for (let component = 0; component < 3; component++) frame.set([component + 1, 0x11, 0], 6 + component * 3);
  const dcTable = Buffer.from([0x00, ...DC_BITS, ...DC_VALUES]);
  const acTable = Buffer.from([0x10, 1, ...Array(15).fill(0), 0x00]);
  const scan = Buffer.from([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]);
  const jfif = Buffer.from([0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xffe0, jfif),
    segment(0xffdb, quantisation),
    segment(0xffc0, frame),
    segment(0xffc4, Buffer.concat([dcTable, acTable])),
    segment(0xffda, scan),
    bits.finish(),
    Buffer.from([0xff, 0xd9]),
  ]);
}

// ---- WebP ----

class LsbBits {
  private bytes: number[] = [];
  private current = 0;
  private count = 0;
  write(value: number, length: number): void {
    for (let bit = 0; bit < length; bit++) {
      this.current |= ((value >> bit) & 1) << this.count;
      if (++this.count === 8) {
        this.bytes.push(this.current);
        this.current = 0;
        this.count = 0;
      }
    }
  }
  finish(): Buffer {
    if (this.count) this.bytes.push(this.current);
    return Buffer.from(this.bytes);
  }
}

/**
 * A lossless WebP (VP8L) of one colour, the raster's average: five one-symbol prefix codes make
 * every pixel a zero-bit literal, so the file is a few dozen bytes whatever the size.
 */
export function webpFile(image: RgbImage): Buffer {
  const { width, height, pixels } = image;
  const total = [0, 0, 0];
  for (let i = 0; i < pixels.length; i += 3) for (let c = 0; c < 3; c++) total[c]! += pixels[i + c]!;
  const [red, green, blue] = total.map((sum) => Math.round(sum / (width * height))) as [number, number, number];
  const bits = new LsbBits();
  bits.write(0x2f, 8); // VP8L signature
  bits.write(width - 1, 14);
  bits.write(height - 1, 14);
  bits.write(0, 1); // alpha not used
  bits.write(0, 3); // version
  bits.write(0, 1); // no transform
  bits.write(0, 1); // no colour cache
  bits.write(0, 1); // no meta prefix codes
  const oneSymbol = (symbol: number) => {
    bits.write(1, 1); // simple code
    bits.write(0, 1); // one symbol
    bits.write(1, 1); // 8-bit symbol
    bits.write(symbol, 8);
  };
  oneSymbol(green); // green + length prefix alphabet: only the literal
  oneSymbol(red);
  oneSymbol(blue);
  oneSymbol(255); // alpha
  oneSymbol(0); // distance (never used)
  const vp8l = bits.finish();
  const chunk = Buffer.alloc(8 + vp8l.length + (vp8l.length & 1));
  chunk.write("VP8L", 0, "latin1");
  chunk.writeUInt32LE(vp8l.length, 4);
  vp8l.copy(chunk, 8);
  const header = Buffer.alloc(12);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(4 + chunk.length, 4);
  header.write("WEBP", 8, "latin1");
  return Buffer.concat([header, chunk]);
}

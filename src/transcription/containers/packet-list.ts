/**
 * A file's packets kept compactly: times, sizes and where each packet's bytes lie in the file, in
 * typed arrays. A two-hour AAC recording has some 300,000 packets; as mediabunny EncodedPacket
 * objects (each with its own Uint8Array view) they cost about as much memory as the file itself.
 * An EncodedPacket is made again only when a packet is written (mux.ts).
 */
import { EncodedPacket } from "mediabunny";

export class PacketList {
  private count = 0;
  private timestamps = new Float64Array(1024);
  private durations = new Float64Array(1024);
  private offsets = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private keys = new Uint8Array(1024);
  /** Packets whose bytes are not a view of the file (a demuxer's copy), by index. */
  private readonly copies = new Map<number, Uint8Array>();

  constructor(private readonly source: Uint8Array) {}

  get length(): number {
    return this.count;
  }

  add(packet: EncodedPacket): void {
    const data = packet.data;
    const inSource = data.buffer === this.source.buffer;
    const i = this.append(packet.timestamp, packet.duration, inSource ? data.byteOffset : -1, data.byteLength, packet.type === "key");
    if (!inSource) this.copies.set(i, data);
  }

  /**
   * A packet whose bytes lie in the file at `offset` (its byte offset in the file's buffer), as a
   * sample table gives it (mp4-samples.ts); -1 for a copy, which only add() keeps.
   * @returns its index.
   */
  append(timestamp: number, duration: number, offset: number, byteLength: number, key: boolean): number {
    if (this.count === this.timestamps.length) this.grow();
    const i = this.count++;
    this.timestamps[i] = timestamp;
    this.durations[i] = duration;
    this.offsets[i] = offset;
    this.lengths[i] = byteLength;
    this.keys[i] = key ? 1 : 0;
    return i;
  }

  /** Makes room for `count` packets in all at once, when the count is known (a sample table says it), instead of doubling up to it. */
  reserve(count: number): void {
    while (this.timestamps.length < count) this.grow(count);
  }

  /** Forgets every packet (a reader that gave up part-way). */
  clear(): void {
    this.count = 0;
    this.copies.clear();
  }

  timestamp(i: number): number {
    return this.timestamps[i]!;
  }

  duration(i: number): number {
    return this.durations[i]!;
  }

  byteLength(i: number): number {
    return this.lengths[i]!;
  }

  /** Where packet i's bytes start in the file's buffer, or -1 when they are a copy. */
  offset(i: number): number {
    return this.offsets[i]!;
  }

  data(i: number): Uint8Array {
    const offset = this.offsets[i]!;
    return offset < 0 ? this.copies.get(i)! : new Uint8Array(this.source.buffer, offset, this.lengths[i]!);
  }

  /** Packet i as mediabunny writes it, its time moved back by `shift` seconds. */
  packet(i: number, shift = 0): EncodedPacket {
    return new EncodedPacket(this.data(i), this.keys[i] === 1 ? "key" : "delta", this.timestamps[i]! - shift, this.durations[i]!);
  }

  private grow(atLeast = 0): void {
    const size = Math.max(this.timestamps.length * 2, atLeast);
    const bigger = <T extends Float64Array | Uint32Array | Uint8Array>(array: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(array);
      return next;
    };
    this.timestamps = bigger(this.timestamps, (n) => new Float64Array(n));
    this.durations = bigger(this.durations, (n) => new Float64Array(n));
    this.offsets = bigger(this.offsets, (n) => new Float64Array(n));
    this.lengths = bigger(this.lengths, (n) => new Uint32Array(n));
    this.keys = bigger(this.keys, (n) => new Uint8Array(n));
  }
}

/**
 * Seeded randomness for everything the simulator makes up (answers, latencies, fault picks,
 * vectors, audio): a small PRNG, digests that derive seeds from request content, and a normal
 * sample for latency. Same seed, same run: tests and benchmarks can rely on exact repeats.
 */
import { createHash } from "node:crypto";

/** A small seeded PRNG (sfc32): same seed, same sequence, on every machine. */
export class Random {
  // sfc32's four 32-bit state words, named as in its reference implementation.
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  constructor(seed: number | string | Uint8Array) {
    const state = seedBytes(seed);
    this.a = state.readUInt32LE(0);
    this.b = state.readUInt32LE(4);
    this.c = state.readUInt32LE(8);
    this.d = state.readUInt32LE(12);
    // Warm up so that close seeds diverge.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const result = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + result) | 0;
    return result >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    let uniform = 0;
    while (uniform === 0) uniform = this.next();
    const angle = 2 * Math.PI * this.next();
    const radius = Math.sqrt(-2 * Math.log(uniform));
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}

function seedBytes(seed: number | string | Uint8Array): Buffer {
  const hash = createHash("sha256");
  if (typeof seed === "number") hash.update(`n:${seed}`);
  else if (typeof seed === "string") hash.update(`s:${seed}`);
  else hash.update(seed);
  return hash.digest();
}

/** A stable hex digest of any JSON-able parts, for deriving seeds and ids. */
export function digest(...parts: unknown[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(typeof part === "string" ? part : (JSON.stringify(part) ?? "undefined")).update("\u0000");
  return hash.digest("hex");
}

/** Sample a normally distributed value around `mean`, never below zero. */
export function sampleNonNegative(random: Random, mean: number, stdDev: number): number {
  if (stdDev <= 0 || mean <= 0) return Math.max(0, mean);
  return Math.max(0, mean + random.normal() * stdDev);
}

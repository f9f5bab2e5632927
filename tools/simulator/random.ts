import { createHash } from "node:crypto";

/** A small seeded PRNG (sfc32): same seed, same sequence, on every machine. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  constructor(seed: number | string | Uint8Array) {
    const h = seedBytes(seed);
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12);
    // Warm up so that close seeds diverge.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
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
      const s = this.spareNormal;
      this.spareNormal = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function seedBytes(seed: number | string | Uint8Array): Buffer {
  const h = createHash("sha256");
  if (typeof seed === "number") h.update(`n:${seed}`);
  else if (typeof seed === "string") h.update(`s:${seed}`);
  else h.update(seed);
  return h.digest();
}

/** A stable hex digest of any JSON-able parts, for deriving seeds and ids. */
export function digest(...parts: unknown[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(typeof p === "string" ? p : (JSON.stringify(p) ?? "undefined")).update("\u0000");
  return h.digest("hex");
}

/** Sample a normally distributed value around `mean`, never below zero. */
export function sampleNonNegative(random: Random, mean: number, stdDev: number): number {
  if (stdDev <= 0 || mean <= 0) return Math.max(0, mean);
  return Math.max(0, mean + random.normal() * stdDev);
}

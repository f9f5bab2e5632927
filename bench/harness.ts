/**
 * What every benchmark returns and the statistics they share. Absolute times drift on shared
 * machines, so each benchmark measures its comparison side by side (alternating A and B over
 * several rounds) and reports the ratio; the target is stated next to each figure.
 */
import { readFileSync } from "node:fs";

export interface Figure {
  /** What was measured, e.g. "time to load the entry point (bundled)". */
  name: string;
  value: number;
  unit: string;
  /** The comparison measured in the same run, if any. */
  baseline?: { name: string; value: number };
  /** baseline / value or value / baseline, whichever the target speaks of; see `ratioMeaning`. */
  ratio?: number;
  ratioMeaning?: string;
  /** Spread of the measurement, e.g. "p10-p90 150-190 ms". */
  spread?: string;
  /** The target in words, e.g. "<= 60 ms". */
  target?: string;
  pass?: boolean;
}

export interface BenchmarkOptions {
  /** A tiny input, for the smoke test that checks the benchmark still runs. */
  tiny: boolean;
  /** Progress lines for the console. */
  log: (line: string) => void;
}

export interface Benchmark {
  name: string;
  description: string;
  run(options: BenchmarkOptions): Promise<Figure[]>;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * Nearest-rank percentile.
 * @throws Error when a value is NaN: a missing measurement would silently shift every rank.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (values.some(Number.isNaN)) throw new Error(`percentile of ${values.length} values of which some are NaN (a missing measurement)`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function spreadOf(values: readonly number[], unit: string): string {
  return `p10-p90 ${round(percentile(values, 10))}-${round(percentile(values, 90))} ${unit} (n=${values.length})`;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Runs A and B alternately for `rounds` rounds so drift affects both alike. */
export async function alternate<T>(rounds: number, a: () => Promise<T>, b: () => Promise<T>): Promise<{ a: T[]; b: T[] }> {
  const results = { a: [] as T[], b: [] as T[] };
  for (let i = 0; i < rounds; i++) {
    // Swap the order every round so neither side always runs on a warmer machine.
    if (i % 2 === 0) {
      results.a.push(await a());
      results.b.push(await b());
    } else {
      results.b.push(await b());
      results.a.push(await a());
    }
  }
  return results;
}

/**
 * This process's peak RSS in bytes: VmHWM where Linux has it. `resourceUsage().maxRSS` also holds
 * the RSS of the process this one was forked from (the bench runner, hundreds of MB once other
 * benchmarks have run), so a child's peak would depend on what ran before it.
 */
export function peakRssInBytes(): number {
  try {
    const kib = /VmHWM:\s*(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kib) return Number(kib) * 1024;
  } catch {
    // Not Linux: fall back below.
  }
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * `npm run bench [-- name ...]`: runs the benchmarks, prints one table and writes
 * bench/results/latest.json. Never part of `npm test` (a smoke test runs each on a tiny input).
 * Running some benchmarks by name replaces only their entries in latest.json, each with its date.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT as ROOT } from "../tools/repo-root.js";
import { BENCHMARKS } from "./benchmarks.js";
import { formatTable } from "./format-table.js";
import type { Figure } from "./harness.js";

interface BenchmarkResult {
  benchmark: string;
  description: string;
  /** When this benchmark ran. */
  date: string;
  machine: Record<string, unknown>;
  figures: Figure[];
  error?: string;
}

const MACHINE = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.arch()}`,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const tiny = args.includes("--tiny");
  const names = args.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark ${unknown.join(", ")}. Available: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
    process.exit(2);
  }
  const selected = names.length > 0 ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const results: BenchmarkResult[] = [];
  for (const benchmark of selected) {
    console.log(`\n== ${benchmark.name}: ${benchmark.description}`);
    const entry = { benchmark: benchmark.name, description: benchmark.description, date: new Date().toISOString(), machine: MACHINE };
    try {
      const figures = await benchmark.run({ tiny, log: (line) => console.log(`   ${line}`) });
      results.push({ ...entry, figures });
    } catch (error) {
      console.error(`   failed: ${(error as Error).stack ?? String(error)}`);
      results.push({ ...entry, figures: [], error: String(error) });
    }
  }
  console.log(`\n${formatTable(results)}`);

  const out = path.join(ROOT, "bench/results", tiny ? "tiny.json" : "latest.json");
  const merged = mergeResults(await readPrevious(out), results);
  const report = { date: new Date().toISOString(), machine: MACHINE, tiny, results: merged, table: formatTable(merged) };
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nWrote ${path.relative(ROOT, out)}`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

async function readPrevious(file: string): Promise<BenchmarkResult[]> {
  try {
    return (JSON.parse(await readFile(file, "utf8")) as { results?: BenchmarkResult[] }).results ?? [];
  } catch {
    return [];
  }
}

/** The new results replace earlier ones of the same benchmark; order follows BENCHMARKS. */
function mergeResults(previous: BenchmarkResult[], latest: BenchmarkResult[]): BenchmarkResult[] {
  const byName = new Map(previous.filter((r) => r.date).map((r) => [r.benchmark, r]));
  for (const result of latest) byName.set(result.benchmark, result);
  const order = BENCHMARKS.map((b) => b.name);
  return [...byName.values()].sort((a, b) => order.indexOf(a.benchmark) - order.indexOf(b.benchmark));
}

await main();

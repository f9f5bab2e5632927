/**
 * `npm run bench [-- name ...]`: runs the benchmarks, prints one table and writes
 * bench/results/latest.json. Never part of `npm test` (a smoke test runs each on a tiny input).
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT as ROOT } from "../tools/repo-root.js";
import { BENCHMARKS } from "./benchmarks.js";
import { formatTable } from "./format-table.js";
import type { Figure } from "./harness.js";


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
  const results: { benchmark: string; description: string; figures: Figure[]; error?: string }[] = [];
  for (const benchmark of selected) {
    console.log(`\n== ${benchmark.name}: ${benchmark.description}`);
    try {
      const figures = await benchmark.run({ tiny, log: (line) => console.log(`   ${line}`) });
      results.push({ benchmark: benchmark.name, description: benchmark.description, figures });
    } catch (error) {
      console.error(`   failed: ${(error as Error).stack ?? String(error)}`);
      results.push({ benchmark: benchmark.name, description: benchmark.description, figures: [], error: String(error) });
    }
  }
  const table = formatTable(results);
  console.log(`\n${table}`);
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}` },
    tiny,
    results,
    table,
  };
  const out = path.join(ROOT, "bench/results", tiny ? "tiny.json" : "latest.json");
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nWrote ${path.relative(ROOT, out)}`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

await main();

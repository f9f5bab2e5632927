/**
 * Cold start: how long a fresh Node process takes to load the app's entry point (every
 * registration, with @azure/functions in its test mode since no worker is present) and its peak
 * memory, for the deployed esbuild bundle against the same app compiled by plain tsc. Also the
 * size of the deployment zip.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { REPO_ROOT as ROOT } from "../tools/repo-root.js";
import { promisify } from "node:util";
import { buildPackage } from "../tools/package/build-package.js";
import { alternate, median, round, spreadOf, type Benchmark, type Figure } from "./harness.js";

const run = promisify(execFile);

// Runs in the child: time only the import of the entry point, then report peak RSS.
const LOADER = `
const started = performance.now();
await import(process.argv[1]);
const loadInMs = performance.now() - started;
process.stdout.write("\\n@@" + JSON.stringify({ loadInMs, maxRssInKiB: process.resourceUsage().maxRSS }) + "\\n");
`;

// Enough settings for the config module to accept; nothing is contacted while loading.
const ENV = {
  ...process.env,
  AZURE_OPENAI_ENDPOINT: "https://example.openai.azure.com",
  AzureWebJobsStorage: "UseDevelopmentStorage=true",
};

interface Sample {
  loadInMs: number;
  maxRssInKiB: number;
}

async function loadOnce(entry: string): Promise<Sample> {
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", LOADER, entry], { env: ENV, cwd: ROOT });
  const line = stdout.split("\n").find((l) => l.startsWith("@@"));
  if (!line) throw new Error(`the entry point ${entry} printed no timing; output:\n${stdout}`);
  return JSON.parse(line.slice(2)) as Sample;
}

export const coldStart: Benchmark = {
  name: "cold-start",
  description: "load time and peak memory of the entry point: esbuild bundle vs plain tsc output; deployment zip size",
  async run({ tiny, log }) {
    const pkg = await buildPackage(ROOT);
    const bundled = pkg.bundlePath;
    const unbundled = path.join(ROOT, "dist/src/index.js");
    const rounds = tiny ? 2 : 15;
    log(`cold-start: ${rounds} alternating rounds of fresh processes`);
    const { a, b } = await alternate(rounds, () => loadOnce(bundled), () => loadOnce(unbundled));
    const bundledMs = a.map((s) => s.loadInMs);
    const plainMs = b.map((s) => s.loadInMs);
    const bundledMiB = a.map((s) => s.maxRssInKiB / 1024);
    const plainMiB = b.map((s) => s.maxRssInKiB / 1024);
    const speedup = median(plainMs) / median(bundledMs);
    const figures: Figure[] = [
      {
        name: "entry point load, bundled",
        value: round(median(bundledMs)),
        unit: "ms",
        spread: spreadOf(bundledMs, "ms"),
        target: "<= 60 ms",
        pass: median(bundledMs) <= 60,
      },
      {
        name: "entry point load, bundled vs tsc",
        value: round(median(bundledMs)),
        unit: "ms",
        baseline: { name: "tsc output, unbundled", value: round(median(plainMs)) },
        ratio: round(speedup, 2),
        ratioMeaning: "times faster than unbundled",
        spread: spreadOf(plainMs, "ms") + " (unbundled)",
        target: ">= 3x",
        pass: speedup >= 3,
      },
      {
        name: "peak RSS after load, bundled",
        value: round(median(bundledMiB)),
        unit: "MiB",
        baseline: { name: "tsc output, unbundled", value: round(median(plainMiB)) },
        ratio: round(median(plainMiB) / median(bundledMiB), 2),
        ratioMeaning: "unbundled / bundled",
        target: "<= 70 MiB",
        pass: median(bundledMiB) <= 70,
      },
      {
        name: "deployment zip",
        value: round(pkg.zipBytes / (1024 * 1024), 2),
        unit: "MiB",
        target: "<= 1.5 MB",
        pass: pkg.zipBytes <= 1.5 * 1000 * 1000,
      },
    ];
    return figures;
  },
};

/**
 * Cold start: how long a fresh Node process takes to load the app's entry point (every
 * registration, with @azure/functions in its test mode since no worker is present) and its peak
 * memory, for the deployed bundle against the same app compiled by plain tsc. Also the
 * size of the deployment zip.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { REPO_ROOT as ROOT } from "../tools/repo-root.js";
import { promisify } from "node:util";
import { appModuleKind } from "../tools/local-host/load-app.js";
import { buildPackage } from "../tools/package/build-package.js";
import { alternate, median, round, spreadOf, type Benchmark, type Figure } from "./harness.js";

const run = promisify(execFile);

/**
 * The Node built-ins the Functions Node worker has loaded before it loads any app: its host
 * connection is @grpc/grpc-js, which requires these (the list is what `require("@grpc/grpc-js")`
 * 1.x adds to process.moduleLoadList). In a worker, an app's own requires of them cost nothing.
 */
export const WORKER_PRELOADED_BUILTINS = [
  "assert",
  "crypto",
  "diagnostics_channel",
  "dns",
  "http",
  "http2",
  "net",
  "os",
  "stream",
  "string_decoder",
  "tls",
  "zlib",
];

// Runs in the child, a CommonJS script like the Functions Node worker: time only the loading of
// the entry point, the way the worker loads it (`require` for CommonJS, `import()` for an ES
// module), then report peak RSS. With "worker-like", the worker's built-ins are loaded first
// (not timed).
const LOADER = `
(async () => {
  const [entry, how, kind] = process.argv.slice(1);
  if (kind === "worker-like") for (const name of ${JSON.stringify(WORKER_PRELOADED_BUILTINS)}) require("node:" + name);
  const url = require("node:url").pathToFileURL(entry).href;
  const started = performance.now();
  if (how === "commonjs") require(entry);
  else await import(url);
  const loadInMs = performance.now() - started;
  // Peak RSS from VmHWM, as harness.ts peakRssInBytes() reads it (inline: the child must load
  // nothing but the entry): resourceUsage().maxRSS keeps the high-water mark of the parent it was
  // forked from (a bench process that just ran the bundler is hundreds of MiB).
  let maxRssInKiB = process.resourceUsage().maxRSS;
  try { maxRssInKiB = Number(/VmHWM:\\s*(\\d+) kB/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"))[1]); } catch {}
  process.stdout.write("\\n@@" + JSON.stringify({ loadInMs, maxRssInKiB }) + "\\n");
})();
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

async function loadOnce(entry: string, appRoot: string, kind: "fresh" | "worker-like" = "fresh"): Promise<Sample> {
  const { stdout } = await run(process.execPath, ["-e", LOADER, entry, appModuleKind(entry, appRoot), kind], { env: ENV, cwd: ROOT });
  const line = stdout.split("\n").find((l) => l.startsWith("@@"));
  if (!line) throw new Error(`the entry point ${entry} printed no timing; output:\n${stdout}`);
  return JSON.parse(line.slice(2)) as Sample;
}

export const coldStart: Benchmark = {
  name: "cold-start",
  description: "load time and peak memory of the entry point: the deployed bundle vs plain tsc output; deployment zip size",
  async run({ tiny, log }) {
    const pkg = await buildPackage(ROOT);
    const bundled = pkg.bundlePath;
    const unbundled = path.join(ROOT, "dist/src/index.js");
    const rounds = tiny ? 2 : 25;
    log(`cold-start: ${rounds} alternating rounds of fresh processes, then ${rounds} of worker-like ones`);
    const { a, b } = await alternate(
      rounds,
      () => loadOnce(bundled, pkg.packageDir),
      () => loadOnce(unbundled, ROOT),
    );
    const worker = await alternate(
      rounds,
      () => loadOnce(bundled, pkg.packageDir, "worker-like"),
      () => loadOnce(unbundled, ROOT, "worker-like"),
    );
    const workerBundledMs = worker.a.map((s) => s.loadInMs);
    const workerPlainMs = worker.b.map((s) => s.loadInMs);
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
        // Not the target's measure (a fresh process is), but what a cold start costs in Azure,
        // where the worker has loaded these built-ins for its own connection to the host.
        name: "entry point load in a worker-like process (built-ins preloaded), bundled vs tsc",
        value: round(median(workerBundledMs)),
        unit: "ms",
        baseline: { name: "tsc output, unbundled", value: round(median(workerPlainMs)) },
        ratio: round(median(workerPlainMs) / median(workerBundledMs), 2),
        ratioMeaning: "times faster than unbundled",
        spread: spreadOf(workerBundledMs, "ms") + " (bundled)",
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

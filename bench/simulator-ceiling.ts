/**
 * The simulator's own ceiling on this machine: how much it can serve before it, rather than the app,
 * becomes the bottleneck of a benchmark. The simulator runs in a child process (its CLI) so that
 * the load generator here does not share its core.
 *
 * - embeddings: non-streamed requests per second, one input each, 1536-dimension float vectors,
 *   `concurrency` requests in flight;
 * - streams: concurrent chat streams each paced at `tokensPerSecond`; the largest count whose
 *   delivered token rate stays within 90% of the target.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "../tools/repo-root.js";
import type { Benchmark, Figure as HarnessFigure } from "./harness.js";
import { round } from "./harness.js";

export interface SimulatorCeilingOptions {
  /** Rough total time budget; split between the two measurements. Default 10. */
  seconds?: number;
  /** Embeddings requests in flight. Default 32. */
  concurrency?: number;
  /** Per-stream token rate for the stream measurement. Default 20 (the chat benchmark's rate). */
  tokensPerSecond?: number;
  /** Stream counts to try, in order, until one falls short. Default 100, 200, 400, 800. */
  streamSteps?: number[];
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export interface SimulatorCeilingResult {
  embeddings: {
    requestsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    errors: number;
    concurrency: number;
    /** Share of one core the simulator used (Linux only): below 1, the load generator was the limit. */
    simulatorCpu?: number;
    /** Requests per second of the simulator's own CPU time: its ceiling when it has a core to itself. */
    requestsPerCpuSecond?: number;
  };
  streams: {
    tokensPerSecondPerStream: number;
    /** Largest concurrent stream count held at >= 90% of the target rate. */
    maxConcurrentStreams: number;
    steps: {
      streams: number;
      deliveredRatio: number;
      tokensPerSecond: number;
      errors: number;
      simulatorCpu?: number;
      tokensPerCpuSecond?: number;
    }[];
  };
  figures: Figure[];
}

const API_VERSION = "2024-10-21";
const KEY = "bench-key-local-only";

async function startChild(): Promise<{ url: string; child: ChildProcess }> {
  // The built CLI (npm run bench and npm test build first), whether this file runs from dist or source.
  const cli = path.join(REPO_ROOT, "dist/tools/simulator/cli.js");
  const child = spawn(process.execPath, [cli, "--port", "0", "--api-key", KEY], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m && out.includes("Control API")) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`simulator exited with ${code}: ${out}`)));
  });
  return { url, child };
}

async function control(url: string, method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${url}/_simulator${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status} ${await res.text()}`);
}

function post(agent: http.Agent, url: URL, body: string, onData?: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { "api-key": KEY, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.on("data", (c: Buffer) => onData?.(c));
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** CPU seconds a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return undefined;
  }
}

/** Runs `work` and adds the simulator's CPU share and throughput per CPU second. */
async function withCpu<T extends object>(
  pid: number | undefined,
  rate: (r: T) => number,
  work: () => Promise<T>,
): Promise<T & { simulatorCpu?: number; perCpuSecond?: number }> {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const result = await work();
  const cpu1 = cpuSeconds(pid);
  if (cpu0 === undefined || cpu1 === undefined || cpu1 <= cpu0) return result;
  const wall = (performance.now() - t0) / 1000;
  const share = (cpu1 - cpu0) / wall;
  return { ...result, simulatorCpu: share, perCpuSecond: rate(result) / share };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function embeddingsCeiling(url: string, seconds: number, concurrency: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(`${url}/openai/deployments/text-embedding-3-small/embeddings?api-version=${API_VERSION}`);
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const body = JSON.stringify({
        input: `Document ${i++ % 1000}: the quick brown fox jumps over the lazy dog`,
        encoding_format: "float",
      });
      const t0 = performance.now();
      const status = await post(agent, target, body);
      if (status === 200) latencies.push(performance.now() - t0);
      else errors++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    concurrency,
  };
}

async function streamStep(url: string, streams: number, tokensPerSecond: number, tokensPerStream: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: streams });
  const target = new URL(`${url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`);
  const body = JSON.stringify({ messages: [{ role: "user", content: "Stream please" }], stream: true, max_tokens: tokensPerStream });
  let tokens = 0;
  let errors = 0;
  const ratios: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      let seen = 0;
      const t0 = performance.now();
      const status = await post(agent, target, body, (c) => {
        // Content chunks are the ones whose delta starts with content (the role chunk's starts with role).
        const text = c.toString();
        for (let at = text.indexOf('"delta":{"content":"'); at >= 0; at = text.indexOf('"delta":{"content":"', at + 1)) seen++;
      }).catch(() => 0);
      if (status !== 200) errors++;
      tokens += seen;
      // Answers have 20-60 tokens: compare each stream with the time its own tokens should take.
      if (seen > 1) ratios.push((seen - 1) / tokensPerSecond / ((performance.now() - t0) / 1000));
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  const delivered = tokens / elapsed;
  const deliveredRatio = ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : 0;
  return { streams, deliveredRatio, tokensPerSecond: delivered, errors };
}

/**
 * Measures the simulator's ceiling; see the file comment.
 * @throws Error when the simulator's CLI is not built (run `npm run build`) or fails to start.
 */
export async function runSimulatorCeiling(options: SimulatorCeilingOptions = {}): Promise<SimulatorCeilingResult> {
  const seconds = options.seconds ?? 10;
  const concurrency = options.concurrency ?? 32;
  const tps = options.tokensPerSecond ?? 20;
  const steps = options.streamSteps ?? [100, 200, 400, 800];
  const { url, child } = await startChild();
  try {
    await control(url, "PATCH", "/settings", { journalBodies: false });
    await control(url, "PATCH", "/deployments/*", {
      tpm: null,
      rpm: null,
      latency: { timeToFirstTokenMs: 0, embeddingsMs: 0, stdDevRatio: 0, tokensPerSecond: tps },
    });
    // Warm up the JIT and the word-vector cache.
    await embeddingsCeiling(url, Math.min(1, seconds * 0.1), 4);
    const measured = await withCpu(
      child.pid,
      (r) => r.requestsPerSecond,
      () => embeddingsCeiling(url, Math.max(1, seconds * 0.4), concurrency),
    );
    const { perCpuSecond, ...rest } = measured;
    const embeddings: SimulatorCeilingResult["embeddings"] = {
      ...rest,
      ...(perCpuSecond !== undefined ? { requestsPerCpuSecond: perCpuSecond } : {}),
    };
    await control(url, "POST", "/reset", { keepDeployments: true });

    // Each step lasts about a share of the remaining budget.
    const perStepSeconds = Math.max(1, (seconds * 0.5) / steps.length);
    const tokensPerStream = Math.max(10, Math.round(perStepSeconds * tps));
    await streamStep(url, steps[0] ?? 50, tps, tokensPerStream);
    const results: SimulatorCeilingResult["streams"]["steps"] = [];
    let max = 0;
    for (const n of steps) {
      const { perCpuSecond, ...r } = await withCpu(
        child.pid,
        (x) => x.tokensPerSecond,
        () => streamStep(url, n, tps, tokensPerStream),
      );
      results.push({ ...r, ...(perCpuSecond !== undefined ? { tokensPerCpuSecond: perCpuSecond } : {}) });
      if (r.deliveredRatio >= 0.9 && r.errors === 0) max = n;
      else break;
    }
    const figures: Figure[] = [
      { name: "simulator embeddings throughput (1536 dims, 1 input)", value: embeddings.requestsPerSecond, unit: "req/s" },
      { name: "simulator embeddings p99 latency", value: embeddings.p99Ms, unit: "ms" },
      { name: `simulator concurrent streams at ${tps} tok/s`, value: max, unit: "streams" },
    ];
    if (embeddings.requestsPerCpuSecond !== undefined)
      figures.push({ name: "simulator embeddings per CPU second", value: embeddings.requestsPerCpuSecond, unit: "req/cpu-s" });
    const best = results.map((r) => r.tokensPerCpuSecond).filter((x): x is number => x !== undefined);
    if (best.length) figures.push({ name: "simulator stream tokens per CPU second", value: Math.max(...best), unit: "tokens/cpu-s" });
    return { embeddings, streams: { tokensPerSecondPerStream: tps, maxConcurrentStreams: max, steps: results }, figures };
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

/**
 * The heaviest loads the app's benchmarks push through the simulator, from their full-size
 * settings: chat-streaming's capacity steps go on while an arm in front of the simulator still
 * holds, about 100 streams of 20 tokens/s on this machine (its part 1 holds 16); embeddings-quota
 * is capped by its simulated quota at 60 requests per 2 s window.
 */
const APP_BENCHMARK_LOAD = { streamTokensPerSecond: 100 * 20, embeddingsRequestsPerSecond: 30 };

export const simulatorCeiling: Benchmark = {
  name: "simulator-ceiling",
  description: "the simulator's own ceiling on this machine, and its headroom over what the app's benchmarks push",
  async run({ tiny, log }) {
    const result = await runSimulatorCeiling(tiny ? { seconds: 2, streamSteps: [10] } : { seconds: 12 });
    log(`embeddings ${result.embeddings.requestsPerSecond} req/s; streams held ${result.streams.maxConcurrentStreams}`);
    const figures: HarnessFigure[] = [];
    const embeddingsPerCpu = result.embeddings.requestsPerCpuSecond ?? result.embeddings.requestsPerSecond;
    const embeddingsHeadroom = embeddingsPerCpu / APP_BENCHMARK_LOAD.embeddingsRequestsPerSecond;
    figures.push({
      name: "embeddings (1536 dims) per simulator CPU-second",
      value: round(embeddingsPerCpu),
      unit: "req/s",
      baseline: { name: "embeddings-quota pushes at most", value: APP_BENCHMARK_LOAD.embeddingsRequestsPerSecond },
      ratio: round(embeddingsHeadroom, 1),
      ratioMeaning: "headroom",
      target: ">= 5x",
      pass: embeddingsHeadroom >= 5,
    });
    const tokensPerCpu = Math.max(0, ...result.streams.steps.map((step) => step.tokensPerCpuSecond ?? step.tokensPerSecond));
    const streamHeadroom = tokensPerCpu / APP_BENCHMARK_LOAD.streamTokensPerSecond;
    figures.push({
      name: "streamed tokens per simulator CPU-second",
      value: Math.round(tokensPerCpu),
      unit: "tokens/s",
      baseline: { name: "chat-streaming pushes", value: APP_BENCHMARK_LOAD.streamTokensPerSecond },
      ratio: round(streamHeadroom, 1),
      ratioMeaning: "headroom",
      target: ">= 5x",
      pass: streamHeadroom >= 5,
    });
    figures.push({
      name: `concurrent streams held at 20 tokens/s (wall clock, shared cores)`,
      value: result.streams.maxConcurrentStreams,
      unit: "streams",
    });
    return figures;
  },
};

// `node dist/bench/simulator-ceiling.js [seconds]` prints the figures.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const seconds = Number(process.argv[2] ?? 10);
  runSimulatorCeiling({ seconds }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}

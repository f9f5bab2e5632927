/**
 * HTTP transcription (POST /api/v1/audio/transcriptions) of a one-hour 16 kHz mono WAV (about
 * 115 MB) through the real app in the local host, with Azurite and the simulator, Whisper's
 * latency at a realistic real-time factor, sent by the official `openai` client:
 * - wall time with the chunks in parallel (TRANSCRIPTION_MAX_CONCURRENCY=8) against the same
 *   chunks one after another (=1), in the same run (target: ratio >= 3 with >= 5 chunks);
 * - peak RSS of the host process, which runs the app, relative to the file size (target:
 *   <= 2.5x), measured from its RSS just before the upload (after a warm-up request has loaded
 *   the audio modules) to its peak (VmHWM), so it counts what the upload and the pipeline hold.
 *
 * Each run starts a fresh host, so one run's peak does not carry into the other's. Like
 * bench/transcription.ts (the blob pipeline's), the WAV is speech-like: tone bursts and pauses.
 * Needs `npm run build` (the host runs dist/src/index.js). Linux only for the memory figure.
 */
import { readFileSync } from "node:fs";
import OpenAI, { toFile } from "openai";
import path from "node:path";
import { startAzurite, type Azurite } from "../tools/local-host/azurite.js";
import { startHost } from "../tools/local-host/index.js";
import { REPO_ROOT } from "../tools/repo-root.js";
import { NO_LATENCY, start as startSimulator, type Simulator } from "../tools/simulator/index.js";
import { round, type Benchmark, type BenchmarkOptions, type Figure } from "./harness.js";

/** Seconds of Whisper processing per second of audio; Azure's Whisper runs at roughly 1/30-1/60 of real time. */
const REAL_TIME_FACTOR = 0.02;

interface RunResult {
  elapsedInMs: number;
  chunks: number;
  baselineRssInBytes: number;
  peakRssInBytes: number;
}

export const httpTranscriptionBenchmark: Benchmark = {
  name: "http-transcription",
  description: "POST /api/v1/audio/transcriptions, 1 h 16 kHz WAV (~115 MB): parallel vs sequential chunks, host peak RSS vs file size",
  run: runHttpTranscriptionBenchmark,
};

/** Runs the benchmark and returns its figures (see the file comment). */
export async function runHttpTranscriptionBenchmark(options: BenchmarkOptions): Promise<Figure[]> {
  const seconds = options.tiny ? 60 : 3600;
  // Tiny: 1.9 MB split into 5 chunks by a small chunk limit, so the smoke test covers the same path.
  const maxChunkBytes = options.tiny ? 400_000 : 25_000_000;
  const realTimeFactor = options.tiny ? 0.01 : REAL_TIME_FACTOR;
  const wav = speechLikeWav(seconds);
  options.log(`generated ${round(wav.byteLength / 1e6)} MB of WAV (${seconds} s)`);

  const [azurite, simulator] = await Promise.all([startAzurite(), startSimulator({ latency: NO_LATENCY, journalBodies: false })]);
  const run = (maxConcurrency: number) => transcribeOverHttp({ azurite, simulator }, wav, maxConcurrency, maxChunkBytes, realTimeFactor);
  let parallel: RunResult;
  let sequential: RunResult;
  try {
    parallel = await run(8);
    options.log(
      `parallel (8 at once): ${parallel.chunks} chunks in ${round(parallel.elapsedInMs)} ms, host RSS ${round(parallel.baselineRssInBytes / 1e6)} -> peak ${round(parallel.peakRssInBytes / 1e6)} MB`,
    );
    sequential = await run(1);
    options.log(
      `sequential: ${sequential.chunks} chunks in ${round(sequential.elapsedInMs)} ms, host RSS ${round(sequential.baselineRssInBytes / 1e6)} -> peak ${round(sequential.peakRssInBytes / 1e6)} MB`,
    );
  } finally {
    await Promise.allSettled([simulator.stop(), azurite.stop()]);
  }

  const speedup = sequential.elapsedInMs / parallel.elapsedInMs;
  const rssRatio = (parallel.peakRssInBytes - parallel.baselineRssInBytes) / wav.byteLength;
  return [
    {
      name: `HTTP wall time, ${parallel.chunks} chunks in parallel (RTF ${realTimeFactor})`,
      value: round(parallel.elapsedInMs / 1000, 2),
      unit: "s",
      baseline: { name: "same chunks one after another", value: round(sequential.elapsedInMs / 1000, 2) },
      ratio: round(speedup, 2),
      ratioMeaning: "sequential / parallel",
      target: ">= 3x with >= 5 chunks",
      pass: parallel.chunks >= 5 && speedup >= 3,
    },
    {
      name: `peak RSS of the host running the app (parallel run; ${round(parallel.baselineRssInBytes / 1e6)} MB before the upload)`,
      value: round(parallel.peakRssInBytes / 1e6),
      unit: "MB",
      baseline: { name: "file size", value: round(wav.byteLength / 1e6) },
      ratio: round(rssRatio, 2),
      ratioMeaning: "(peak RSS - RSS before upload) / file size",
      target: options.tiny ? "informational on tiny input" : "<= 2.5x",
      pass: options.tiny ? true : rssRatio <= 2.5,
    },
  ];
}

/** One upload through a fresh host whose app transcribes `maxConcurrency` chunks at once. */
async function transcribeOverHttp(
  { azurite, simulator }: { azurite: Azurite; simulator: Simulator },
  wav: Buffer,
  maxConcurrency: number,
  maxChunkBytes: number,
  realTimeFactor: number,
): Promise<RunResult> {
  const host = await startHost({
    entry: path.join(REPO_ROOT, "dist/src/index.js"),
    cwd: REPO_ROOT,
    port: 0,
    isolateEnv: true,
    env: {
      AzureWebJobsStorage: azurite.connectionString,
      FUNCTIONS_WORKER_RUNTIME: "node",
      AZURE_OPENAI_ENDPOINT: simulator.url,
      AZURE_OPENAI_API_KEY: simulator.apiKey,
      AZURE_OPENAI_TIMEOUT_MS: "600000",
      HTTP_AUTH_LEVEL: "anonymous",
      TRANSCRIPTION_MAX_CONCURRENCY: String(maxConcurrency),
      TRANSCRIPTION_MAX_CHUNK_BYTES: String(maxChunkBytes),
    },
    // Azure's host takes at most 100 MB unless FUNCTIONS_REQUEST_BODY_SIZE_LIMIT says more; the local host likewise.
    maxRequestBodyBytes: 256 * 1024 * 1024,
  });
  try {
    const client = new OpenAI({ baseURL: `${host.url}/api/v1`, apiKey: "unused", maxRetries: 0, timeout: 900_000 });
    // Warm-up: loads the audio modules and the client, so the baseline holds them.
    await client.audio.transcriptions.create({ file: await toFile(speechLikeWav(1), "warm-up.wav"), model: "whisper" });
    await simulator.control.reset({ keepDeployments: true });
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: realTimeFactor });
    const baselineRssInBytes = processMemory(host.pid, "VmRSS");
    const started = performance.now();
    const result = await client.audio.transcriptions.create({
      file: await toFile(wav, "hour.wav"),
      model: "whisper",
      response_format: "verbose_json",
    });
    const elapsedInMs = performance.now() - started;
    const peakRssInBytes = processMemory(host.pid, "VmHWM");
    if (!(result.duration > 0)) throw new Error(`the transcription came back without a duration: ${JSON.stringify(result).slice(0, 200)}`);
    const chunks = (await simulator.control.counters()).deployments.whisper?.requests ?? 0;
    return { elapsedInMs, chunks, baselineRssInBytes, peakRssInBytes };
  } finally {
    await host.stop();
  }
}

/** VmRSS / VmHWM of a process, in bytes (0 where /proc is missing). */
function processMemory(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const kib = new RegExp(`${field}:\\s*(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib ? Number(kib) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `seconds` of 16 kHz mono 16-bit WAV: 8 s of tone, 2 s of pause, repeated (like speech). */
function speechLikeWav(seconds: number): Buffer {
  const sampleRate = 16000;
  const samples = seconds * sampleRate;
  const file = Buffer.alloc(44 + samples * 2);
  file.write("RIFF", 0, "ascii");
  file.writeUInt32LE(36 + samples * 2, 4);
  file.write("WAVEfmt ", 8, "ascii");
  file.writeUInt32LE(16, 16);
  file.writeUInt16LE(1, 20);
  file.writeUInt16LE(1, 22);
  file.writeUInt32LE(sampleRate, 24);
  file.writeUInt32LE(sampleRate * 2, 28);
  file.writeUInt16LE(2, 32);
  file.writeUInt16LE(16, 34);
  file.write("data", 36, "ascii");
  file.writeUInt32LE(samples * 2, 40);
  const data = new Int16Array(file.buffer, file.byteOffset + 44, samples);
  for (let i = 0; i < samples; i++) {
    const inTone = i % (10 * sampleRate) < 8 * sampleRate;
    data[i] = inTone ? Math.round(12000 * Math.sin((2 * Math.PI * 220 * i) / sampleRate)) : 0;
  }
  return file;
}

/**
 * The child process of the transcription benchmarks (transcription.ts, transcription-formats.ts),
 * both sides: each measured run is a fresh process (this built file with `--worker`), so its peak
 * memory is the transcription's alone; the child prints its result as one `@@{json}` line.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { REPO_ROOT } from "../tools/repo-root.js";
import { peakRssInBytes } from "./harness.js";

const run = promisify(execFile);

/** What the worker reports. */
export interface TranscriptionWorkerResult {
  elapsedInMs: number;
  maxRssInBytes: number;
  /** RSS with the runtime and SDKs loaded, before the blob is downloaded. */
  baselineRssInBytes: number;
  chunks: number;
  state: string;
  /** CPU time of the transcribing process (user + system) during the transcription. */
  cpuInMs: number;
}

/**
 * Transcribes `audio/<blob>` in a child process (`dist/bench/transcription-worker.js --worker <blob>
 * <maxConcurrency> <container>`) with `env`: BENCH_SIMULATOR_URL, BENCH_SIMULATOR_KEY, BENCH_AZURITE,
 * BENCH_MAX_CHUNK_BYTES.
 * @throws Error when the worker prints no result or its transcription did not succeed.
 */
export async function runTranscriptionWorker(
  blob: string,
  env: NodeJS.ProcessEnv,
  maxConcurrency: number,
  container: string,
): Promise<TranscriptionWorkerResult> {
  const { stdout } = await run(
    process.execPath,
    [path.join(REPO_ROOT, "dist/bench/transcription-worker.js"), "--worker", blob, String(maxConcurrency), container],
    {
      env,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const line = stdout.split("\n").find((l) => l.startsWith("@@"));
  if (!line) throw new Error(`the worker printed no result:\n${stdout.slice(-2000)}`);
  const result = JSON.parse(line.slice(2)) as TranscriptionWorkerResult;
  if (result.state !== "succeeded") throw new Error(`the worker's transcription ended ${result.state}`);
  return result;
}

/** The child: download the blob like the host does, transcribe it, print elapsed time, CPU and peak RSS. */
async function workerMain(blob: string, maxConcurrency: number, transcriptsContainer: string): Promise<void> {
  const [{ loadConfig }, { createRouter }, { transcribeBlob }, { retryPolicy }] = await Promise.all([
    import("../src/config.js"),
    import("../src/routing/index.js"),
    import("../src/transcription/transcribe-blob.js"),
    import("../src/openai/retry-policy.js"),
  ]);
  const config = loadConfig({
    AZURE_OPENAI_ENDPOINT: process.env.BENCH_SIMULATOR_URL,
    AZURE_OPENAI_API_KEY: process.env.BENCH_SIMULATOR_KEY,
    AZURE_OPENAI_TIMEOUT_MS: "600000",
    AzureWebJobsStorage: process.env.BENCH_AZURITE,
  });
  const blobService = BlobServiceClient.fromConnectionString(
    config.storage.kind === "connectionString" ? config.storage.connectionString : "",
  );
  const source = blobService.getContainerClient("audio").getBlobClient(blob);
  const properties = await source.getProperties();
  const baselineRssInBytes = process.memoryUsage().rss;
  const content = await source.downloadToBuffer();
  const quiet = { info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => console.error(...args) };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const outcome = await transcribeBlob(
    {
      router: createRouter(config.openai),
      defaultModel: config.openai.deployments.transcription,
      blobService,
      audioContainer: "audio",
      transcriptsContainer,
      maxChunkBytes: Number(process.env.BENCH_MAX_CHUNK_BYTES),
      maxConcurrency,
      logger: quiet,
      retry: retryPolicy(config, "transcription"),
    },
    { name: blob, content, etag: properties.etag },
  );
  const elapsedInMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const chunks = outcome.state === "skipped" ? 0 : outcome.status.progress.chunksTotal;
  const result: TranscriptionWorkerResult = {
    elapsedInMs,
    maxRssInBytes: peakRssInBytes(),
    baselineRssInBytes,
    chunks,
    state: outcome.state,
    cpuInMs: (cpu.user + cpu.system) / 1000,
  };
  process.stdout.write(`\n@@${JSON.stringify(result)}\n`);
}

if (process.argv[2] === "--worker" && process.argv[1] === fileURLToPath(import.meta.url)) {
  workerMain(process.argv[3]!, Number(process.argv[4]), process.argv[5] ?? "transcripts").catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

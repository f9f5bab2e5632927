/**
 * The parent side of the transcription benchmarks (transcription.ts, transcription-formats.ts): each
 * measured run is a fresh child process (the benchmark's own built file with `--worker`), so its
 * peak memory is the transcription's alone; the child prints its result as one `@@{json}` line.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../tools/repo-root.js";

const run = promisify(execFile);

/** What every worker reports; a benchmark's worker may add figures of its own. */
export interface TranscriptionWorkerResult {
  elapsedInMs: number;
  maxRssInBytes: number;
  /** RSS with the runtime and SDKs loaded, before the blob is downloaded. */
  baselineRssInBytes: number;
  chunks: number;
  state: string;
}

/**
 * Runs `dist/bench/<script>.js --worker <maxConcurrency> <container>` with `env`.
 * @throws Error when the worker prints no result or its transcription did not succeed.
 */
export async function runTranscriptionWorker<T extends TranscriptionWorkerResult>(
  script: string,
  env: NodeJS.ProcessEnv,
  maxConcurrency: number,
  container: string,
): Promise<T> {
  const { stdout } = await run(
    process.execPath,
    [path.join(REPO_ROOT, `dist/bench/${script}.js`), "--worker", String(maxConcurrency), container],
    {
      env,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const line = stdout.split("\n").find((l) => l.startsWith("@@"));
  if (!line) throw new Error(`the worker printed no result:\n${stdout.slice(-2000)}`);
  const result = JSON.parse(line.slice(2)) as T;
  if (result.state !== "succeeded") throw new Error(`the worker's transcription ended ${result.state}`);
  return result;
}

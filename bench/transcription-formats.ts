/**
 * A two-hour M4A (AAC) of real speech (espeak-ng, encoded once by ffmpeg and cached; see
 * fixtures/speech.ts) through the real blob pipeline against Azurite and the simulator, whose
 * Whisper latency follows the audio at a realistic real-time factor:
 * - wall time with the overlapping chunks in parallel against one after another (target >= 3x);
 * - peak RSS of the transcribing process over the file size (target <= 2.5x): the blob, the chunk
 *   files written from it, and the chunks in flight;
 * - words at chunk seams lost or repeated, against the simulator's transcript of the whole file
 *   (its words follow the audio packets, so the same audio gives the same words in any chunk;
 *   target 0).
 *
 * Each run happens in a fresh child process (transcription-worker.ts), as in transcription.ts.
 * Needs `npm run build`, and ffmpeg, espeak-ng and sox to make the recording.
 *
 * What is the app and what is not: the child is the app (it downloads the blob and runs
 * transcribeBlob: reading the packets, writing the chunk files, uploading, stitching); its CPU time
 * is logged as "app CPU". The simulator runs in this process and reads each chunk's packets to
 * make its words ("simulator CPU"); here it shares the machine's cores with the app, on Azure
 * Whisper runs elsewhere, so on a loaded machine the parallel arm pays for both.
 * The two arms do the same work (the same child, plan and chunks), only with at most 8 or 1
 * chunk in flight; BENCH_ROUNDS rounds (default 5) alternate them, and the figures are medians.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { readFile } from "node:fs/promises";
import { runTranscriptionWorker } from "./transcription-worker.js";
import { startAzurite } from "../tools/local-host/azurite.js";
import { NO_LATENCY, start as startSimulator } from "../tools/simulator/index.js";
import { packetTranscript } from "../tools/simulator/packet-transcript.js";
import { digest } from "../tools/simulator/random.js";
import { encodeSpeech, missingSpeechTools, skipReason, speechOfSize } from "./fixtures/speech.js";
import { alternate, median, round, spreadOf, type Benchmark, type BenchmarkOptions, type Figure } from "./harness.js";

/** Seconds of Whisper processing per second of audio (Azure's Whisper: roughly 1/30-1/60 of real time). */
const REAL_TIME_FACTOR = 0.02;
const BLOB = "meeting.m4a";

const cpuTotalInMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

export const transcriptionFormatsBenchmark: Benchmark = {
  name: "transcription-formats",
  description: "2 h M4A of speech: overlapping chunks in parallel vs sequential, peak RSS vs file size, seam words lost or repeated",
  run: runTranscriptionFormatsBenchmark,
};

export async function runTranscriptionFormatsBenchmark(options: BenchmarkOptions): Promise<Figure[]> {
  const missing = missingSpeechTools();
  if (missing.length > 0) throw new Error(`transcription-formats needs speech tools: ${skipReason(missing)}`);
  // Tiny: one minute split into ~5 chunks by a small limit, so the smoke test covers the same path.
  const bytes = options.tiny ? await readFile(encodeSpeech("m4a", 60, 48)) : speechOfSize("m4a", 110_000_000, 128, 300);
  const maxChunkBytes = options.tiny ? Math.ceil(bytes.byteLength / 4.5) : 25_000_000;
  const [azurite, simulator] = await Promise.all([startAzurite(), startSimulator({ latency: NO_LATENCY, journalBodies: false })]);
  try {
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: options.tiny ? 0.01 : REAL_TIME_FACTOR });
    const blobService = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const audio = blobService.getContainerClient("audio");
    await audio.createIfNotExists();
    await audio.getBlockBlobClient(BLOB).uploadData(bytes, { blockSize: 8 * 1024 * 1024, concurrency: 4 });
    options.log(`uploaded ${round(bytes.byteLength / 1e6)} MB of M4A speech`);

    const env = {
      ...process.env,
      BENCH_AZURITE: azurite.connectionString,
      BENCH_SIMULATOR_URL: simulator.url,
      BENCH_SIMULATOR_KEY: simulator.apiKey,
      BENCH_MAX_CHUNK_BYTES: String(maxChunkBytes),
    };
    const worker = (maxConcurrency: number, container: string) => runTranscriptionWorker(BLOB, env, maxConcurrency, container);
    // Rounds alternate the arms (harness.alternate) so the other sessions' load hits both alike;
    // each round writes its transcripts to a container of its own.
    const rounds = options.tiny ? 1 : Number(process.env.BENCH_ROUNDS ?? 5);
    const runsOf = new Map<string, number>();
    const arm = async (maxConcurrency: number, label: string) => {
      const runs = runsOf.get(label) ?? 0;
      runsOf.set(label, runs + 1);
      const cpuBefore = process.cpuUsage();
      const result = await worker(maxConcurrency, `transcripts-${label}-${runs}`);
      // This process runs the simulator (and the bench); the worker is the app alone.
      const simulatorCpuInMs = cpuTotalInMs(process.cpuUsage(cpuBefore));
      options.log(
        `${label}: ${result.chunks} chunks in ${round(result.elapsedInMs)} ms, peak RSS ${round(result.maxRssInBytes / 1e6)} MB, ` +
          `app CPU ${round(result.cpuInMs)} ms, simulator CPU ${round(simulatorCpuInMs)} ms`,
      );
      return result;
    };
    const { a: parallels, b: sequentials } = await alternate(
      rounds,
      () => arm(8, "parallel"),
      () => arm(1, "sequential"),
    );

    // The simulator's Whisper words for the whole file, as one request would get them (it is over
    // the 25 MB a request may carry, so asked of the same transcript maker directly).
    const reference = await packetTranscript(Buffer.from(bytes), digest(0, "whisper", false, "", 0), 0);
    if (!reference) throw new Error("the simulator makes no transcript of the whole file");
    let worst = { lost: 0, repeated: 0 };
    for (let i = 0; i < rounds; i++) {
      const stitched = JSON.parse(
        (await blobService.getContainerClient(`transcripts-parallel-${i}`).getBlobClient(`${BLOB}.json`).downloadToBuffer()).toString(
          "utf8",
        ),
      ) as { text: string };
      const seams = seamDifferences(reference.text.split(" "), stitched.text.split(" "));
      if (seams.lost + seams.repeated > worst.lost + worst.repeated) worst = seams;
    }
    options.log(
      `words: ${reference.words.length} in the whole file; at worst ${worst.lost} lost and ${worst.repeated} repeated by stitching`,
    );

    const speedups = parallels.map((p, i) => sequentials[i]!.elapsedInMs / p.elapsedInMs);
    const rssRatios = parallels.map((p) => (p.maxRssInBytes - p.baselineRssInBytes) / bytes.byteLength);
    const speedup = median(speedups);
    const rssRatio = median(rssRatios);
    const parallelSeconds = parallels.map((p) => p.elapsedInMs / 1000);
    const chunks = parallels[0]!.chunks;
    return [
      {
        name: `wall time, ${chunks} overlapping M4A chunks in parallel (RTF ${options.tiny ? 0.01 : REAL_TIME_FACTOR})`,
        value: round(median(parallelSeconds), 2),
        unit: "s",
        baseline: { name: "same chunks one after another", value: round(median(sequentials.map((s) => s.elapsedInMs / 1000)), 2) },
        ratio: round(speedup, 2),
        // The spread goes in the words too: the README's table shows no spread column.
        ratioMeaning: `sequential / parallel, median of ${rounds} rounds, ${spreadOf(speedups, "x")}`,
        spread: `ratio ${spreadOf(speedups, "x")}; parallel ${spreadOf(parallelSeconds, "s")}`,
        target: ">= 3x",
        pass: options.tiny ? true : speedup >= 3,
      },
      {
        name: `peak RSS of the transcribing process (${round(median(parallels.map((p) => p.baselineRssInBytes)) / 1e6)} MB before the download)`,
        value: round(median(parallels.map((p) => p.maxRssInBytes)) / 1e6),
        unit: "MB",
        baseline: { name: "file size", value: round(bytes.byteLength / 1e6) },
        ratio: round(rssRatio, 2),
        ratioMeaning: `(peak RSS - RSS before download) / file size, median of ${rounds} rounds, ${spreadOf(rssRatios, "x")}`,
        spread: `ratio ${spreadOf(rssRatios, "x")}`,
        target: options.tiny ? "informational on tiny input" : "<= 2.5x",
        pass: options.tiny ? true : rssRatio <= 2.5,
      },
      {
        name: `words lost or repeated by stitching (of ${reference.words.length})`,
        value: worst.lost + worst.repeated,
        unit: "words",
        target: "0 in every round",
        pass: worst.lost + worst.repeated === 0,
      },
    ];
  } finally {
    await Promise.allSettled([simulator.stop(), azurite.stop()]);
  }
}

/**
 * Words of `reference` missing from `stitched` and extra words in `stitched`: the two differ only
 * near seams, so a greedy walk that resynchronises within a few dozen words finds each difference.
 */
export function seamDifferences(reference: readonly string[], stitched: readonly string[]): { lost: number; repeated: number } {
  let lost = 0;
  let repeated = 0;
  let i = 0;
  let j = 0;
  const window = 64;
  const run = 4; // words that must agree to count as back in step
  const agree = (a: number, b: number) => {
    for (let k = 0; k < run; k++) if (reference[a + k] !== stitched[b + k]) return a + k >= reference.length && b + k >= stitched.length;
    return true;
  };
  while (i < reference.length && j < stitched.length) {
    if (reference[i] === stitched[j]) {
      i++;
      j++;
      continue;
    }
    let best: [number, number] | undefined;
    for (let skip = 1; skip <= window && !best; skip++)
      for (let a = 0; a <= skip; a++) {
        const b = skip - a;
        if (agree(i + a, j + b)) {
          best = [a, b];
          break;
        }
      }
    const [a, b] = best ?? [1, 1];
    lost += a;
    repeated += b;
    i += a;
    j += b;
  }
  return { lost: lost + (reference.length - i), repeated: repeated + (stitched.length - j) };
}

/**
 * Transcription of a one-hour 16 kHz mono WAV (about 115 MB) through the real pipeline, against
 * Azurite and the simulator with Whisper latency at a realistic real-time factor:
 * - wall time with chunks in parallel (TRANSCRIPTION_MAX_CONCURRENCY chunks at once) against the
 *   same chunks one after another, in the same run (target: ratio >= 3 with >= 5 chunks);
 * - peak RSS of the process doing the work, relative to the file size (target: close to 1x plus
 *   the chunks in flight, not a multiple of the file).
 *
 * Each run happens in a fresh child process (transcription-worker.ts) that downloads the blob,
 * as the host hands it to the function, and runs transcribeBlob, so its peak RSS is the
 * pipeline's alone. Needs `npm run build` (the child runs dist/bench/transcription-worker.js).
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { runTranscriptionWorker } from "./transcription-worker.js";
import { startAzurite } from "../tools/local-host/azurite.js";
import { NO_LATENCY, start as startSimulator } from "../tools/simulator/index.js";
import { round, type Benchmark, type BenchmarkOptions, type Figure } from "./harness.js";

/** Seconds of Whisper processing per second of audio; Azure's Whisper runs at roughly 1/30-1/60 of real time. */
const REAL_TIME_FACTOR = 0.02;

export const transcriptionBenchmark: Benchmark = {
  name: "transcription",
  description: "1 h 16 kHz WAV (~115 MB): parallel vs sequential chunks, peak RSS vs file size",
  run: runTranscriptionBenchmark,
};

/** Runs the benchmark and returns its figures (see the file comment). */
export async function runTranscriptionBenchmark(options: BenchmarkOptions): Promise<Figure[]> {
  const seconds = options.tiny ? 60 : 3600;
  // Tiny: 1.9 MB split into 5 chunks by a small chunk limit, so the smoke test covers the same path.
  const maxChunkBytes = options.tiny ? 400_000 : 25_000_000;
  const concurrency = 8;
  const [azurite, simulator] = await Promise.all([startAzurite(), startSimulator({ latency: NO_LATENCY, journalBodies: false })]);
  try {
    await simulator.control.setLatency("whisper", { audioRealTimeFactor: options.tiny ? 0.01 : REAL_TIME_FACTOR });
    const blobService = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const audio = blobService.getContainerClient("audio");
    await audio.createIfNotExists();
    const fileBytes = await uploadSpeechLikeWav(audio.getBlockBlobClient("hour.wav"), seconds);
    options.log(`uploaded ${round(fileBytes / 1e6)} MB of WAV (${seconds} s)`);

    const env = {
      ...process.env,
      BENCH_AZURITE: azurite.connectionString,
      BENCH_SIMULATOR_URL: simulator.url,
      BENCH_SIMULATOR_KEY: simulator.apiKey,
      BENCH_MAX_CHUNK_BYTES: String(maxChunkBytes),
    };
    const worker = (maxConcurrency: number, container: string) => runTranscriptionWorker("hour.wav", env, maxConcurrency, container);
    const parallel = await worker(concurrency, "transcripts-parallel");
    options.log(
      `parallel (${concurrency} at once): ${parallel.chunks} chunks in ${round(parallel.elapsedInMs)} ms, peak RSS ${round(parallel.maxRssInBytes / 1e6)} MB`,
    );
    const sequential = await worker(1, "transcripts-sequential");
    options.log(
      `sequential: ${sequential.chunks} chunks in ${round(sequential.elapsedInMs)} ms, peak RSS ${round(sequential.maxRssInBytes / 1e6)} MB`,
    );

    const speedup = sequential.elapsedInMs / parallel.elapsedInMs;
    // What the pipeline adds over the loaded runtime (Node, openai, storage SDK), per byte of file.
    const rssRatio = (parallel.maxRssInBytes - parallel.baselineRssInBytes) / fileBytes;
    return [
      {
        name: `wall time, ${parallel.chunks} chunks in parallel (RTF ${options.tiny ? 0.01 : REAL_TIME_FACTOR})`,
        value: round(parallel.elapsedInMs / 1000, 2),
        unit: "s",
        baseline: { name: "same chunks one after another", value: round(sequential.elapsedInMs / 1000, 2) },
        ratio: round(speedup, 2),
        ratioMeaning: "sequential / parallel",
        target: ">= 3x with >= 5 chunks",
        pass: parallel.chunks >= 5 && speedup >= 3,
      },
      {
        name: `peak RSS of the transcribing process (parallel run; ${round(parallel.baselineRssInBytes / 1e6)} MB before the download)`,
        value: round(parallel.maxRssInBytes / 1e6),
        unit: "MB",
        baseline: { name: "file size", value: round(fileBytes / 1e6) },
        ratio: round(rssRatio, 2),
        ratioMeaning: "(peak RSS - RSS before download) / file size",
        target: options.tiny ? "informational on tiny input" : "<= 2.5x (the blob + chunks in flight)",
        pass: options.tiny ? true : rssRatio <= 2.5,
      },
    ];
  } finally {
    await Promise.allSettled([simulator.stop(), azurite.stop()]);
  }
}

/**
 * Uploads `seconds` of 16 kHz mono 16-bit WAV built block by block (tone bursts and pauses, like
 * speech) without holding the whole file in this process. Returns its size.
 */
async function uploadSpeechLikeWav(blob: import("@azure/storage-blob").BlockBlobClient, seconds: number): Promise<number> {
  const sampleRate = 16000;
  const dataBytes = seconds * sampleRate * 2;
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write("WAVEfmt ", 8, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(dataBytes, 40);
  // One minute: 8 s of tone, 2 s of pause, six times. Repeated as blocks of one minute.
  const minute = new Int16Array(60 * sampleRate);
  for (let i = 0; i < minute.length; i++) {
    const inTone = i % (10 * sampleRate) < 8 * sampleRate;
    minute[i] = inTone ? Math.round(12000 * Math.sin((2 * Math.PI * 220 * i) / sampleRate)) : 0;
  }
  const minuteBytes = Buffer.from(minute.buffer);
  const ids: string[] = [];
  const stage = async (index: number, body: Buffer) => {
    const id = Buffer.from(String(index).padStart(8, "0")).toString("base64");
    ids[index] = id;
    await blob.stageBlock(id, body, body.byteLength);
  };
  await stage(0, header);
  const minutes = Math.ceil(seconds / 60);
  for (let m = 0; m < minutes; m += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, minutes - m) }, (_, k) => {
        const remaining = dataBytes - (m + k) * minuteBytes.byteLength;
        return stage(m + k + 1, minuteBytes.subarray(0, Math.min(minuteBytes.byteLength, remaining)));
      }),
    );
  }
  await blob.commitBlockList(ids);
  return 44 + dataBytes;
}

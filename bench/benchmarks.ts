import { callerLimitsBenchmark } from "./caller-limits.js";
import { chatStreaming } from "./chat-streaming.js";
import { coldStart } from "./cold-start.js";
import { consoleSize } from "./console-size.js";
import { embeddingsQuotaBenchmark } from "./embeddings-quota.js";
import type { Benchmark } from "./harness.js";
import { httpTranscriptionBenchmark } from "./http-transcription.js";
import { routingBenchmark } from "./routing.js";
import { simulatorCeiling } from "./simulator-ceiling.js";
import { speechParallelBenchmark } from "./speech-parallel.js";
import { transcriptionBenchmark } from "./transcription.js";
import { transcriptionFormatsBenchmark } from "./transcription-formats.js";
import { upstreamCall } from "./upstream-call.js";

/** Every benchmark `npm run bench` knows, in the order they run (`npm run bench -- NAME` runs one). */
export const BENCHMARKS: readonly Benchmark[] = [
  coldStart,
  chatStreaming,
  upstreamCall,
  embeddingsQuotaBenchmark,
  transcriptionBenchmark,
  transcriptionFormatsBenchmark,
  httpTranscriptionBenchmark,
  speechParallelBenchmark,
  routingBenchmark,
  callerLimitsBenchmark,
  simulatorCeiling,
  consoleSize,
];

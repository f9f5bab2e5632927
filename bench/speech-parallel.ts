/**
 * Long-text speech: the wall time of speaking a 60,000-character text (15 parts of at most 4096
 * characters) with its parts rendered in parallel, as the speech queue does (SPEECH_PART_CONCURRENCY
 * at a time), against one part after another. Both go through renderSpeech() (split, the shared
 * client, retries, join) against the simulator's gpt-4o-mini-tts, whose generation time follows
 * the audio's length (audioRealTimeFactor, scaled so one part takes about 3 s, where Azure takes
 * several more). Target: parallel >= 3x faster, with >= 5 parts. Both outputs are checked
 * to be the same length of audio.
 */
import { loadConfig } from "../src/config.js";
import type { Logger } from "../src/logging.js";
import { createRouter } from "../src/routing/index.js";
import { retryPolicy } from "../src/openai/retry-policy.js";
import { renderSpeech, speechParts, SPEECH_PART_CONCURRENCY } from "../src/speech/render-speech.js";
import { round, type Benchmark, type Figure } from "./harness.js";
import { startSimulatorProcess } from "./simulator-process.js";

const DEPLOYMENT = "gpt-4o-mini-tts";
const quiet: Logger = { info() {}, warn() {}, error() {} };

/** Sentences of varied length, about `characters` long. */
function text(characters: number): string {
  const sentences: string[] = [];
  for (let i = 0, length = 0; length < characters; i++) {
    const sentence = `Chapter line ${i} follows the ${"slow ".repeat(i % 5)}river past the mill and the bridge. `;
    sentences.push(sentence);
    length += sentence.length;
  }
  return sentences
    .join("")
    .slice(0, characters)
    .replace(/\s*\S*$/, ".");
}

export const speechParallelBenchmark: Benchmark = {
  name: "speech-parallel",
  description: "speech queue: a 60,000-character text, parts rendered in parallel vs one after another",
  async run({ tiny, log }) {
    const input = text(tiny ? 20_500 : 60_000);
    const parts = speechParts(input).length;
    // About 3 s per 4096-character part (some 270 s of audio: Azure takes longer) plus a request
    // overhead; tiny: ~0.1 s. The simulator runs in its own process, so its CPU work (it synthesises
    // the audio it answers) does not share this process's event loop with the pipeline measured.
    const simulator = await startSimulatorProcess();
    try {
      await simulator.control.setLatency(DEPLOYMENT, {
        requestMs: tiny ? 20 : 300,
        stdDevRatio: 0.1,
        audioRealTimeFactor: tiny ? 0.0003 : 0.01,
      });
      const config = loadConfig({
        AZURE_OPENAI_ENDPOINT: simulator.url,
        AZURE_OPENAI_API_KEY: simulator.apiKey,
        AzureWebJobsStorage: "UseDevelopmentStorage=true",
      });
      const router = createRouter(config.openai);
      const deps = {
        router,
        route: router.route("speech", DEPLOYMENT),
        retry: retryPolicy(config, "speech"),
        caller: "pipeline:speech",
        logger: quiet,
      };
      const request = { input, voice: "alloy", format: "mp3" as const, name: "bench" };
      const timed = async (concurrency: number) => {
        const started = performance.now();
        const rendered = await renderSpeech({ ...deps, concurrency }, request);
        return { ms: performance.now() - started, duration: rendered.durationInSeconds ?? 0 };
      };
      await timed(SPEECH_PART_CONCURRENCY); // warm-up: connections, the simulator's first answers
      const sequential = await timed(1);
      const parallel = await timed(SPEECH_PART_CONCURRENCY);
      log(
        `${parts} parts, ${round(parallel.duration)} s of audio: parallel ${round(parallel.ms)} ms, sequential ${round(sequential.ms)} ms`,
      );
      if (Math.abs(parallel.duration - sequential.duration) > 0.001) throw new Error("the two renderings differ in length");
      const ratio = sequential.ms / parallel.ms;
      const figure: Figure = {
        name: `wall time, ${parts} parts (${input.length} characters), ${SPEECH_PART_CONCURRENCY} at a time`,
        value: round(parallel.ms),
        unit: "ms",
        baseline: { name: "one part after another", value: round(sequential.ms) },
        ratio: round(ratio, 2),
        ratioMeaning: "times faster than one after another",
        target: ">= 3x with >= 5 parts",
        pass: ratio >= 3 && parts >= 5,
      };
      return [figure, { name: "parts", value: parts, unit: "parts" }];
    } finally {
      await simulator.stop();
    }
  },
};

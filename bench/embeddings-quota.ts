/**
 * Embeddings against a saturated quota: how much of a deployment's tokens-per-minute quota the
 * pipeline turns into embeddings, against a naive handler that sends one request per message.
 *
 * The simulated deployment has a sliding-window quota scaled down in time (QUOTA_TOKENS tokens and
 * Azure's matching 6 requests per 1,000 tokens per QUOTA_WINDOW_MS instead of per minute) and a
 * realistic request latency. Both sides model one instance of the Functions host: at most
 * HOST_CONCURRENCY messages in flight (batchSize 16 + newBatchThreshold 8), a message that fails
 * comes back later and is poisoned after MAX_DEQUEUE_COUNT deliveries.
 *
 * - pipeline: each message goes through embedInputs() (the same validation, splitting, batching and
 *   quota governor as the queue trigger); throttled work handed back is delivered again, without
 *   using up a delivery, as processEmbeddingsMessage does. Run to completion: zero lost, zero poison.
 * - naive: each message is one embeddings.create() with the openai client's default retries (which
 *   honour retry-after); a failure spends a delivery. Run for the same time as the pipeline took.
 *
 * Utilisation is measured from the simulator's journal: the tokens admitted between the first and
 * the last admitted request, divided by the most a sliding window starting empty can admit in that
 * time, QUOTA_TOKENS x (floor(elapsed / window) + 1). It never exceeds 1; the run spans about a
 * dozen windows, so a deployment kept saturated scores above 0.92 whatever the phase.
 * tokens/s is the same tokens over the same elapsed time. Target: pipeline >= 0.9 with zero poison
 * and zero lost.
 */
import OpenAI from "openai";
import { NO_LATENCY, start as startSimulator, type JournalEntry, type Simulator } from "../tools/simulator/index.js";
import * as openaiErrors from "openai/error";
import { classifyError, useOpenAIErrorClasses } from "../src/errors.js";
import { TRANSIENT_BACKOFF_IN_MS } from "../src/openai/retry-policy.js";
import { EmbeddingsBatcher } from "../src/embeddings/batcher.js";
import { embedInputs } from "../src/embeddings/embed-inputs.js";
import { loadConfig } from "../src/config.js";
import { createRouter } from "../src/routing/index.js";
import type { Logger } from "../src/logging.js";
import { round, type Benchmark, type BenchmarkOptions, type Figure } from "./harness.js";

const DEPLOYMENT = "text-embedding-3-small";
const HOST_CONCURRENCY = 24;
const MAX_DEQUEUE_COUNT = 5;
const LATENCY_MS = 80;
const quiet: Logger = { info() {}, warn() {}, error() {} };

interface Scale {
  messages: number;
  quotaTokens: number;
  quotaWindowMs: number;
}

const FULL: Scale = { messages: 1400, quotaTokens: 10_000, quotaWindowMs: 2_000 };
const TINY: Scale = { messages: 120, quotaTokens: 3_000, quotaWindowMs: 1_000 };

interface SideResult {
  elapsedInMs: number;
  completed: number;
  poisoned: number;
  lost: number;
  tokensPerSecond: number;
  utilisation: number;
  requests: number;
  throttled: number;
}

export const embeddingsQuotaBenchmark: Benchmark = {
  name: "embeddings-quota",
  description: "embeddings quota use: batched, quota-aware pipeline vs one request per message",
  run: runEmbeddingsQuotaBenchmark,
};

/** Runs both sides on fresh simulators and returns the figures (see the file comment). */
export async function runEmbeddingsQuotaBenchmark(options: BenchmarkOptions): Promise<Figure[]> {
  const scale = options.tiny ? TINY : FULL;
  const messages = makeMessages(scale.messages);
  const quotaRate = scale.quotaTokens / (scale.quotaWindowMs / 1000);
  options.log(
    `${messages.length} messages, ${messages.reduce((s, m) => s + m.length, 0)} characters; quota ${scale.quotaTokens} tokens / ${Math.round((scale.quotaTokens * 6) / 1000)} requests per ${scale.quotaWindowMs} ms (${quotaRate} tokens/s)`,
  );

  const pipeline = await withSimulator(scale, (sim) => runPipeline(sim, messages, scale));
  options.log(`pipeline: ${describe(pipeline)}`);
  const naive = await withSimulator(scale, (sim) => runNaive(sim, messages, scale, pipeline.elapsedInMs));
  options.log(`naive:    ${describe(naive)}`);

  return [
    {
      name: "pipeline quota utilisation (tokens/s / quota rate)",
      value: round(pipeline.utilisation, 3),
      unit: "fraction",
      baseline: { name: "naive: one request per message", value: round(naive.utilisation, 3) },
      ratio: round(pipeline.utilisation / Math.max(naive.utilisation, 1e-9), 2),
      ratioMeaning: "pipeline / naive",
      target: ">= 0.9, zero poison, zero lost",
      pass: pipeline.utilisation >= 0.9 && pipeline.poisoned === 0 && pipeline.lost === 0,
    },
    {
      name: "pipeline tokens/s",
      value: round(pipeline.tokensPerSecond),
      unit: "tokens/s",
      baseline: { name: "naive", value: round(naive.tokensPerSecond) },
    },
    {
      name: "pipeline poisoned + lost messages",
      value: pipeline.poisoned + pipeline.lost,
      unit: "messages",
      baseline: { name: "naive poisoned", value: naive.poisoned },
      target: "0",
    },
    {
      name: "pipeline embeddings requests",
      value: pipeline.requests,
      unit: "requests",
      baseline: { name: "naive", value: naive.requests },
      spread: `429s: pipeline ${pipeline.throttled}, naive ${naive.throttled}`,
    },
  ];
}

function describe(r: SideResult): string {
  return `${r.completed} done, ${r.poisoned} poisoned, ${r.lost} lost in ${round(r.elapsedInMs / 1000)} s; ${round(r.tokensPerSecond)} tokens/s = ${round(r.utilisation, 3)} of quota; ${r.requests} requests, ${r.throttled} x 429`;
}

/** Texts of 20-200 tokens, like paragraphs. */
function makeMessages(count: number): string[] {
  const words = [
    "quota",
    "deployment",
    "vector",
    "search",
    "paragraph",
    "azure",
    "function",
    "queue",
    "token",
    "model",
    "semantic",
    "index",
  ];
  return Array.from({ length: count }, (_, i) => {
    const length = 15 + ((i * 37) % 150);
    return Array.from({ length }, (_, j) => words[(i + j * 7) % words.length]).join(" ") + ` (${i})`;
  });
}

async function withSimulator(scale: Scale, run: (sim: Simulator) => Promise<SideResult>): Promise<SideResult> {
  const sim = await startSimulator({ latency: NO_LATENCY, journalBodies: false, journalLimit: 100_000 });
  try {
    await sim.control.updateDeployment(DEPLOYMENT, {
      tpm: scale.quotaTokens,
      rpm: Math.round((scale.quotaTokens * 6) / 1000),
      quotaWindowMs: scale.quotaWindowMs,
      latency: { embeddingsMs: LATENCY_MS, stdDevRatio: 0.2 },
    });
    return await run(sim);
  } finally {
    await sim.stop();
  }
}

interface Delivery {
  index: number;
  dequeueCount: number;
}

/**
 * Models one host instance: HOST_CONCURRENCY deliveries at a time from a FIFO; `handle` resolves
 * "done", "handed-back" (redelivered, no delivery spent) or throws (delivery spent).
 */
async function runHost(
  count: number,
  handle: (index: number) => Promise<"done" | "handed-back">,
  stopAfterMs: number | undefined,
): Promise<{ completed: number; poisoned: number; elapsedInMs: number }> {
  const queue: Delivery[] = Array.from({ length: count }, (_, index) => ({ index, dequeueCount: 0 }));
  let completed = 0;
  let poisoned = 0;
  const started = Date.now();
  const worker = async () => {
    for (;;) {
      if (stopAfterMs !== undefined && Date.now() - started > stopAfterMs) return;
      const delivery = queue.shift();
      if (!delivery) return;
      delivery.dequeueCount++;
      try {
        const outcome = await handle(delivery.index);
        if (outcome === "done") completed++;
        else queue.push({ ...delivery, dequeueCount: 0 });
      } catch {
        if (delivery.dequeueCount >= MAX_DEQUEUE_COUNT) poisoned++;
        else queue.push(delivery);
      }
    }
  };
  await Promise.all(Array.from({ length: HOST_CONCURRENCY }, worker));
  return { completed, poisoned, elapsedInMs: Date.now() - started };
}

async function runPipeline(sim: Simulator, messages: string[], scale: Scale): Promise<SideResult> {
  // The app's own router and clients (src/routing/, src/openai/client.ts): no retries of the
  // client's own (the batcher's policy retries), and a 429 read as throttling.
  useOpenAIErrorClasses(openaiErrors);
  const config = loadConfig({
    AZURE_OPENAI_ENDPOINT: sim.url,
    AZURE_OPENAI_API_KEY: sim.apiKey,
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
  });
  const router = createRouter(config.openai);
  const batcher = new EmbeddingsBatcher({
    router,
    maxInputsPerRequest: 2048,
    maxTokensPerRequest: 300_000,
    maxWaitInMs: 20,
    retry: { transientRetries: 2, transientBackoffInMs: TRANSIENT_BACKOFF_IN_MS },
  });
  const deps = {
    batcher,
    router,
    logger: quiet,
    defaultModel: DEPLOYMENT,
    limits: { chunkTokens: 8191, overlapTokens: 0, split: true },
    throttleBudgetInMs: 60_000,
  };
  const delivered = new Set<number>();
  const host = await runHost(
    messages.length,
    async (index) => {
      try {
        const result = await embedInputs(messages[index]!, {}, deps);
        if (result.items.length === 1 && result.items[0]!.embedding.length > 0) delivered.add(index);
        return "done";
      } catch (error) {
        if (classifyError(error).kind === "throttled") return "handed-back";
        throw error;
      }
    },
    undefined,
  );
  return summarise(sim, scale, host, messages.length - delivered.size);
}

async function runNaive(sim: Simulator, messages: string[], scale: Scale, durationInMs: number): Promise<SideResult> {
  // The openai client's defaults: 2 retries with its own backoff, honouring retry-after-ms.
  const client = new OpenAI({ baseURL: `${sim.url}/openai/v1/`, apiKey: sim.apiKey });
  const host = await runHost(
    messages.length,
    async (index) => {
      await client.embeddings.create({ model: DEPLOYMENT, input: messages[index]! });
      return "done";
    },
    durationInMs,
  );
  return summarise(sim, scale, host, 0);
}

async function summarise(
  sim: Simulator,
  scale: Scale,
  host: { completed: number; poisoned: number; elapsedInMs: number },
  lost: number,
): Promise<SideResult> {
  const journal = await sim.control.journal({ deployment: DEPLOYMENT });
  const counters = (await sim.control.counters()).deployments[DEPLOYMENT]!;
  const { tokensPerSecond, utilisation } = quotaUse(journal, scale);
  return {
    elapsedInMs: host.elapsedInMs,
    completed: host.completed,
    poisoned: host.poisoned,
    lost,
    tokensPerSecond,
    utilisation,
    requests: counters.requests,
    throttled: counters.throttled,
  };
}

/** Tokens admitted over the run, per second and as a fraction of what the quota could admit. */
function quotaUse(journal: readonly JournalEntry[], scale: Scale): { tokensPerSecond: number; utilisation: number } {
  const admitted = journal
    .filter((e) => e.status === 200)
    .map((e) => ({ at: Date.parse(e.time), tokens: e.chargedTokens ?? e.usage?.prompt_tokens ?? 0 }));
  if (admitted.length < 2) return { tokensPerSecond: Number.NaN, utilisation: Number.NaN };
  const first = Math.min(...admitted.map((a) => a.at));
  const last = Math.max(...admitted.map((a) => a.at));
  const tokens = admitted.reduce((sum, a) => sum + a.tokens, 0);
  const capacity = scale.quotaTokens * (Math.floor((last - first) / scale.quotaWindowMs) + 1);
  return { tokensPerSecond: tokens / (Math.max(1, last - first) / 1000), utilisation: tokens / capacity };
}

// Allow `node dist/bench/embeddings-quota.js` on its own until the harness lists it.
if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await runEmbeddingsQuotaBenchmark({ tiny: process.argv.includes("--tiny"), log: (line) => console.log(line) });
  console.log(JSON.stringify(figures, null, 2));
}

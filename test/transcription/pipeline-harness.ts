/**
 * What the pipeline tests that call transcribeBlob directly share: Azurite, the simulator, a
 * logger that keeps its lines, and the pipeline's dependencies against them, with the client's own
 * retries off so every retry seen is the pipeline's.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { loadConfig } from "../../src/config.js";
import type { Logger } from "../../src/logging.js";
import { createRouter } from "../../src/routing/index.js";
import { retryPolicy, type RetryPolicy } from "../../src/openai/retry-policy.js";
import type { TranscribeBlobDeps } from "../../src/transcription/transcribe-blob.js";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { NO_LATENCY, start, type Simulator } from "../../tools/simulator/index.js";
import { makeWav } from "../support/audio/wav.js";

export interface PipelineHarness {
  azurite: Azurite;
  simulator: Simulator;
  blobService: BlobServiceClient;
  /** Every line the pipeline logged since the last clear. */
  lines: string[];
  /**
   * The app's dependencies (retry policy included, from its settings) with fast backoff, and these
   * overrides; a router of their own (fresh health) over the settings plus `routing.settings`,
   * its clients' requests going through `routing.fetch` when given.
   */
  dependencies(
    overrides?: Omit<Partial<TranscribeBlobDeps>, "retry"> & { retry?: Partial<RetryPolicy> },
    routing?: { settings?: Record<string, string>; fetch?: typeof fetch },
  ): Promise<TranscribeBlobDeps>;
  /** Uploads a generated tone of `seconds` to the audio container, as one delivery would see it. */
  uploadWav(
    name: string,
    seconds: number,
    options?: { tone?: number; metadata?: Record<string, string> },
  ): Promise<{ name: string; content: Buffer; etag: string }>;
  /** Before each test: the simulator's faults, latency and counters, and the log lines. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPipelineHarness(): Promise<PipelineHarness> {
  const [azurite, simulator] = await Promise.all([startAzurite(), start({ latency: NO_LATENCY })]);
  const blobService = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await blobService.getContainerClient("audio").createIfNotExists();
  const lines: string[] = [];
  const logger: Logger = {
    info: (...args) => lines.push(args.join(" ")),
    warn: (...args) => lines.push(args.join(" ")),
    error: (...args) => lines.push(args.join(" ")),
  };
  const config = loadConfig({
    AZURE_OPENAI_ENDPOINT: simulator.url,
    AZURE_OPENAI_API_KEY: simulator.apiKey,
    AZURE_OPENAI_MAX_RETRIES: "0",
    AzureWebJobsStorage: azurite.connectionString,
  });
  return {
    azurite,
    simulator,
    blobService,
    lines,
    dependencies: async (overrides = {}, routing = {}) => {
      const routed = loadConfig({
        AZURE_OPENAI_ENDPOINT: simulator.url,
        AZURE_OPENAI_API_KEY: simulator.apiKey,
        AZURE_OPENAI_MAX_RETRIES: "0",
        AzureWebJobsStorage: azurite.connectionString,
        ...routing.settings,
      });
      return {
        router: createRouter(routed.openai, routing.fetch ? { fetch: routing.fetch } : {}),
        defaultModel: routed.openai.deployments.transcription,
        blobService,
        audioContainer: "audio",
        transcriptsContainer: "transcripts",
        maxChunkBytes: config.transcription.maxChunkBytes,
        maxConcurrency: 4,
        logger,
        ...overrides,
        retry: { ...retryPolicy(config, "transcription"), transientBackoffInMs: 10, ...overrides.retry },
      };
    },
    uploadWav: async (name, seconds, options = {}) => {
      const content = makeWav([{ tone: options.tone ?? 440, seconds }]);
      const response = await blobService
        .getContainerClient("audio")
        .getBlockBlobClient(name)
        .uploadData(content, { metadata: options.metadata ?? {} });
      return { name, content, etag: response.etag! };
    },
    reset: async () => {
      await simulator.control.reset();
      lines.length = 0;
    },
    stop: async () => {
      await Promise.allSettled([simulator.stop(), azurite.stop()]);
    },
  };
}

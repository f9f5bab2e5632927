/**
 * The transcription pipeline's entry points for the function modules, which load this module on
 * first use so its code stays out of the cold start of the other functions.
 */
import type { Config } from "../config.js";
import type { Logger } from "../logging.js";
import { getOpenAIClient } from "../openai/client.js";
import { retryPolicy } from "../openai/retry-policy.js";
import { getStorageClients } from "../storage/clients.js";
import type { TranscribeBlobDeps } from "./transcribe-blob.js";

export { transcribeBlob, type AudioBlob, type TranscribeOutcome } from "./transcribe-blob.js";
export { getTranscriptionStatus, type StatusAnswer } from "./status-query.js";

/** The pipeline's dependencies from the process configuration: the shared clients, the settings. */
export async function transcriptionDependencies(config: Config, logger: Logger): Promise<TranscribeBlobDeps> {
  const [client, storage] = await Promise.all([
    getOpenAIClient(config.openai),
    getStorageClients(config.storage, config.openai.managedIdentityAvailable),
  ]);
  return {
    client,
    deployment: config.openai.deployments.transcription,
    blobService: storage.blobService,
    audioContainer: config.audio.container,
    transcriptsContainer: config.audio.transcriptsContainer,
    maxChunkBytes: config.transcription.maxChunkBytes,
    maxConcurrency: config.transcription.maxConcurrency,
    claimTtlInMs: config.transcription.claimTtlInMs,
    retry: retryPolicy(config, "transcription"),
    logger,
  };
}

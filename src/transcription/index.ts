/**
 * The transcription pipeline's entry points for the function modules, which load this module on
 * first use so its code stays out of the cold start of the other functions.
 */
import type { Config } from "../config.js";
import type { Logger } from "../logging.js";
import { retryPolicy } from "../openai/retry-policy.js";
import { getRouter } from "../routing/index.js";
import { getStorageClients } from "../storage/clients.js";
import type { TranscribeBlobDeps } from "./transcribe-blob.js";

export { transcribeBlob, type AudioBlob, type TranscribeOutcome } from "./transcribe-blob.js";
export { getTranscriptionStatus, type StatusAnswer } from "./status-query.js";

/** The pipeline's dependencies from the process configuration: the process's router and storage clients, the settings. */
export async function transcriptionDependencies(config: Config, logger: Logger): Promise<TranscribeBlobDeps> {
  const storage = await getStorageClients(config.storage, config.openai.managedIdentityAvailable);
  return {
    router: getRouter(config.openai),
    defaultModel: config.openai.deployments.transcription,
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

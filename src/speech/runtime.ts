/**
 * The process-wide pieces of the speech queue pipeline, built once per configuration: the store
 * over SPEECH_CONTAINER, the queue to hand work back to, the process's router and the retry policy.
 */
import type { Config } from "../config.js";
import type { Logger } from "../logging.js";
import { retryPolicy } from "../openai/retry-policy.js";
import { getRouter } from "../routing/index.js";
import { getStorageClients } from "../storage/clients.js";
import type { SpeechMessageDependencies } from "./process-message.js";
import { SpeechStore } from "./speech-store.js";

let store: { config: Config; store: SpeechStore } | undefined;

/** Everything processSpeechMessage() needs under this configuration. */
export async function speechQueueDependencies(config: Config, logger: Logger): Promise<SpeechMessageDependencies> {
  const storage = await getStorageClients(config.storage, config.openai.managedIdentityAvailable);
  if (store?.config !== config) store = { config, store: new SpeechStore(storage.blobService.getContainerClient(config.speech.container)) };
  return {
    render: {
      router: getRouter(config.openai),
      caller: "pipeline:speech",
      defaultModel: config.openai.deployments.speech,
      retry: retryPolicy(config, "speech"),
    },
    store: store.store,
    queue: storage.queueService.getQueueClient(config.speech.queue),
    logger,
  };
}

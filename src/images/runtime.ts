/**
 * The process-wide pieces of the images queue pipeline, built once per configuration: the store
 * over IMAGES_CONTAINER, the queue to hand work back to, the process's router and the retry policy.
 */
import type { Config } from "../config.js";
import type { Logger } from "../logging.js";
import { retryPolicy } from "../openai/retry-policy.js";
import { getRouter } from "../routing/index.js";
import { getStorageClients } from "../storage/clients.js";
import { ImagesStore } from "./images-store.js";
import type { ImagesMessageDependencies } from "./process-message.js";

let store: { config: Config; store: ImagesStore } | undefined;

/** Everything processImagesMessage() needs under this configuration. */
export async function imagesQueueDependencies(config: Config, logger: Logger): Promise<ImagesMessageDependencies> {
  const storage = await getStorageClients(config.storage, config.openai.managedIdentityAvailable);
  if (store?.config !== config) store = { config, store: new ImagesStore(storage.blobService.getContainerClient(config.images.container)) };
  return {
    generate: {
      router: getRouter(config.openai),
      caller: "pipeline:images",
      defaultModel: config.openai.deployments.images,
      retry: retryPolicy(config, "images"),
    },
    store: store.store,
    queue: storage.queueService.getQueueClient(config.images.queue),
    logger,
  };
}

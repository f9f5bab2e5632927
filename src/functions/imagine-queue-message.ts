import { app, type InvocationContext } from "@azure/functions";
import { getProcessConfig, openAISecrets } from "../config.js";
import { createSafeLogger } from "../logging.js";
import { deliveryFromTrigger } from "../queue-jobs/delivery.js";

/**
 * Queue trigger on IMAGES_QUEUE: one message -> `{id}/1.png` ... `{id}/{n}.png` and `{id}.json`
 * describing them, or `{id}.error.json` saying why not (docs/images.md). Registered even when
 * images are turned off, so their messages are kept (retried, then poison) rather than ignored.
 */
export async function imagineQueueMessage(message: unknown, context: InvocationContext): Promise<void> {
  const config = getProcessConfig();
  const logger = createSafeLogger(context, openAISecrets(config.openai));
  // Loaded on first message, so this code and the SDKs stay out of the cold start of other functions.
  const { processImagesMessage, imagesQueueDependencies } = await import("../images/index.js");
  await processImagesMessage(deliveryFromTrigger(message, context), await imagesQueueDependencies(config, logger));
}

app.storageQueue("imagineQueueMessage", {
  queueName: getProcessConfig().images.queue,
  connection: "AzureWebJobsStorage",
  handler: imagineQueueMessage,
});

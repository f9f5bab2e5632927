import { app, type InvocationContext } from "@azure/functions";
import { getProcessConfig, openAISecrets } from "../config.js";
import { createSafeLogger } from "../logging.js";
import { deliveryFromTrigger } from "../queue-jobs/delivery.js";

/**
 * Queue trigger on SPEECH_QUEUE: one message -> `{id}.{format}` with the spoken text and
 * `{id}.json` describing it, or `{id}.error.json` saying why not (docs/speech.md). Registered even
 * when speech is turned off, so its messages are kept (retried, then poison) rather than ignored.
 */
export async function speakQueueMessage(message: unknown, context: InvocationContext): Promise<void> {
  const config = getProcessConfig();
  const logger = createSafeLogger(context, openAISecrets(config.openai));
  // Loaded on first message, so the audio code and SDKs stay out of the cold start of other functions.
  const { processSpeechMessage, speechQueueDependencies } = await import("../speech/index.js");
  await processSpeechMessage(deliveryFromTrigger(message, context), await speechQueueDependencies(config, logger));
}

app.storageQueue("speakQueueMessage", {
  queueName: getProcessConfig().speech.queue,
  connection: "AzureWebJobsStorage",
  handler: speakQueueMessage,
});

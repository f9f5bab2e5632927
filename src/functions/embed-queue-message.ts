import { app, type InvocationContext } from "@azure/functions";
import { getProcessConfig, openAISecrets } from "../config.js";
import { createSafeLogger } from "../logging.js";
import { deliveryFromTrigger } from "../queue-jobs/delivery.js";

/**
 * Queue trigger on EMBEDDINGS_QUEUE: one message -> `{id}.json` with its embeddings, or
 * `{id}.error.json` saying why not (see src/embeddings/process-message.ts for what each failure
 * does to the message). Concurrent invocations on this instance share embeddings requests.
 */
export async function embedQueueMessage(message: unknown, context: InvocationContext): Promise<void> {
  const config = getProcessConfig();
  const logger = createSafeLogger(context, openAISecrets(config.openai));
  // Loaded on first message, so the tokenizer and SDKs stay out of the cold start of other functions.
  const { processEmbeddingsMessage, queuePipelineDependencies } = await import("../embeddings/index.js");
  await processEmbeddingsMessage(deliveryFromTrigger(message, context), await queuePipelineDependencies(config, logger));
}

app.storageQueue("embedQueueMessage", {
  queueName: getProcessConfig().embeddings.queue,
  connection: "AzureWebJobsStorage",
  handler: embedQueueMessage,
});

/**
 * Puts a job message on one of the app's queues, base64-encoded as host.json's messageEncoding says.
 */
import type { QueueServiceClient } from "@azure/storage-queue";
import { BadInputError } from "../errors.js";

/** A queue message holds at most 64 KiB, and base64 makes 3 bytes 4: the largest JSON that fits. */
export const MAX_MESSAGE_BYTES = 48 * 1024;

/**
 * @returns the queue's message id and the id the outputs are named after (the message's `id`, else the message id, as the queue functions do).
 * @throws BadInputError when `id` is there but not a string; storage errors as they come.
 */
export async function enqueueJob(
  queueService: QueueServiceClient,
  queue: string,
  message: Record<string, unknown>,
): Promise<{ messageId: string; id: string }> {
  if (message.id !== undefined && typeof message.id !== "string") {
    throw new BadInputError(`"id" must be a string (got ${typeof message.id}); it names the outputs`, { param: "id" });
  }
  const client = queueService.getQueueClient(queue);
  const body = Buffer.from(JSON.stringify(message), "utf8").toString("base64");
  let sent;
  try {
    sent = await client.sendMessage(body);
  } catch (error) {
    // The host creates its trigger queues when it starts listening; a fresh account may not have them yet.
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    await client.createIfNotExists();
    sent = await client.sendMessage(body);
  }
  return { messageId: sent.messageId, id: (message.id as string | undefined) ?? sent.messageId };
}

/**
 * The queue message contract:
 *   {"id"?: string, "input": string | string[], "dimensions"?: number, "deployment"?: string, "metadata"?: object,
 *    "enqueuedAt"?: string}
 * Unknown fields are rejected, so a typo such as `inputs` fails loudly instead of being ignored.
 * `enqueuedAt` is set by the app itself on work it hands back to the queue (see
 * src/queue-jobs/run-job.ts), so the output keeps the original message's time. Work too large to
 * hand back inline comes back as a reference instead, `{"id": string, "handback": ".handback/{uuid}.json"}`,
 * to a blob holding the message.
 */
import { z } from "zod";
import { enqueuedAtSchema, idSchema, parseJobMessage, readQueuePayload } from "../queue-jobs/payload.js";
import { MAX_DIMENSIONS } from "./input-limits.js";

export { ID_PATTERN } from "../queue-jobs/payload.js";

export const embeddingsMessageSchema = z.strictObject({
  id: idSchema.optional(),
  input: z.union([z.string(), z.array(z.string())], { error: "must be a string or an array of strings" }),
  dimensions: z.number().int().min(1).max(MAX_DIMENSIONS).optional(),
  deployment: z.string().min(1).max(64).optional(),
  metadata: z.record(z.string(), z.unknown(), { error: "must be a JSON object" }).optional(),
  enqueuedAt: enqueuedAtSchema.optional(),
});

export type EmbeddingsMessage = z.infer<typeof embeddingsMessageSchema>;

/** A queue message: the work itself, or a reference to work the app stored when handing it back. */
export type QueueMessage = { kind: "job"; job: EmbeddingsJob } | { kind: "handback"; id: string; blob: string };

/**
 * Reads a queue message: a hand-back reference if it is one, else the work itself.
 * @throws BadInputError as parseEmbeddingsMessage does.
 */
export function parseQueueMessage(payload: unknown, queueMessageId: string): QueueMessage {
  const message = readQueuePayload(payload);
  return message.kind === "handback" ? message : { kind: "job", job: parseEmbeddingsMessage(message.body, queueMessageId) };
}

/** A message that passed the schema, with its output name settled. */
export interface EmbeddingsJob extends EmbeddingsMessage {
  id: string;
}

/**
 * Turns the queue trigger's payload into a job. The Functions host hands over a parsed object
 * when the message text is JSON, else a string; a string that is base64 of JSON is also accepted,
 * so a message encoded once too often still works.
 * @throws BadInputError when the message is not a JSON object or breaks the schema; `details`
 *   carries the best id found, so the error record can still be named after the message.
 */
export function parseEmbeddingsMessage(payload: unknown, queueMessageId: string): EmbeddingsJob {
  return parseJobMessage(payload, queueMessageId, embeddingsMessageSchema, {
    example: '{"input": "text"}',
    allowedFields: ["id", "input", "dimensions", "deployment", "metadata", "enqueuedAt"],
  });
}

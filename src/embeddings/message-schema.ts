/**
 * The queue message contract:
 *   {"id"?: string, "input": string | string[], "dimensions"?: number, "model"?: string, "metadata"?: object,
 *    "enqueuedAt"?: string}
 * `model` names a model of the routing table that serves embeddings (default: the configured one);
 * `deployment` is its older name, still accepted (without AZURE_OPENAI_DEPLOYMENTS each deployment
 * is a model of its own name, so old messages mean the same).
 * Unknown fields are rejected, so a typo such as `inputs` fails loudly instead of being ignored.
 * `enqueuedAt` is set by the app itself on work it hands back to the queue (see
 * src/queue-jobs/run-job.ts), so the output keeps the original message's time. Work too large to
 * hand back inline comes back as a reference instead, `{"id": string, "handback": ".handback/{uuid}.json"}`,
 * to a blob holding the message.
 */
import { z } from "zod";
import { BadInputError } from "../errors.js";
import { enqueuedAtSchema, idSchema, parseJobMessage, readQueuePayload } from "../queue-jobs/payload.js";
import { MAX_DIMENSIONS } from "./input-limits.js";

export { ID_PATTERN } from "../queue-jobs/payload.js";

export const embeddingsMessageSchema = z.strictObject({
  id: idSchema.optional(),
  input: z.union([z.string(), z.array(z.string())], { error: "must be a string or an array of strings" }),
  dimensions: z.number().int().min(1).max(MAX_DIMENSIONS).optional(),
  model: z.string().min(1).max(64).optional(),
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
  const job = parseJobMessage(payload, queueMessageId, embeddingsMessageSchema, {
    example: '{"input": "text"}',
    allowedFields: ["id", "input", "dimensions", "model", "deployment", "metadata", "enqueuedAt"],
  });
  if (job.model !== undefined && job.deployment !== undefined && job.model !== job.deployment) {
    throw new BadInputError(
      `The message names model "${job.model}" and deployment "${job.deployment}"; \`deployment\` is the older name of \`model\`, so give only \`model\``,
      { code: "schema_violation", param: "deployment", details: { id: job.id } },
    );
  }
  return job;
}

/** The model a job names (`model`, or its older name `deployment`), and the field that named it. */
export function requestedModel(job: EmbeddingsMessage): { model: string; param: string } | undefined {
  if (job.model !== undefined) return { model: job.model, param: "model" };
  if (job.deployment !== undefined) return { model: job.deployment, param: "deployment" };
  return undefined;
}

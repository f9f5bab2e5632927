/**
 * One delivery of a queue message as the queue pipelines see it (embeddings, speech, images), read
 * from the trigger's metadata, and the time that becomes an output's `createdAt`: the enqueue time
 * of the original message, so a redelivery or a handed-back copy produces the same record.
 */
import type { InvocationContext } from "@azure/functions";

export interface QueueDelivery {
  /** The trigger's payload: an object when the message was JSON, else a string. */
  body: unknown;
  messageId: string;
  dequeueCount: number;
  /** When the message was first enqueued; it becomes the output's createdAt. */
  insertionTime: Date | string | undefined;
}

/** The delivery of `message`, from the queue trigger's metadata (id, dequeue count, insertion time). */
export function deliveryFromTrigger(message: unknown, context: InvocationContext): QueueDelivery {
  const metadata = context.triggerMetadata ?? {};
  return {
    body: message,
    messageId: typeof metadata.id === "string" ? metadata.id : context.invocationId,
    dequeueCount: typeof metadata.dequeueCount === "number" ? metadata.dequeueCount : Number(metadata.dequeueCount ?? 1),
    insertionTime:
      typeof metadata.insertionTime === "string" || metadata.insertionTime instanceof Date ? metadata.insertionTime : undefined,
  };
}

/** When the work was first enqueued: a handed-back copy carries its original's time. */
export function enqueuedAt(job: { enqueuedAt?: string | undefined }, delivery: QueueDelivery): string {
  return isoTime(job.enqueuedAt ?? delivery.insertionTime);
}

export function isoTime(value: Date | string | undefined): string {
  const date = value === undefined ? new Date() : new Date(value);
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}

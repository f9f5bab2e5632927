/**
 * Writes results and error records to the embeddings container:
 *   {id}.json        the embeddings, written once per successful delivery
 *   {id}.error.json  why a message was rejected, or why its last delivery failed
 *   .handback/{uuid}.json  throttled work too large to hand back inline
 * (the last two are the queue pipelines' shared blobs: src/queue-jobs/job-store.ts).
 *
 * Each blob is written with one Put Blob request, which storage applies atomically: readers see
 * the old blob or the new one, never part of one. The output's content depends only on the message
 * (createdAt is the message's enqueue time), so a redelivered message rewrites identical bytes.
 */
import { JobStore, errorBlobName, type JobErrorRecord } from "../queue-jobs/job-store.js";
import type { EmbeddingItem } from "./embed-inputs.js";

export { errorBlobName };
export { HANDBACK_PREFIX } from "../queue-jobs/payload.js";

export interface EmbeddingsOutput {
  id: string;
  /** The deployment that served the vectors (the first, when several backends served parts of them). */
  deployment: string;
  /** The model Azure OpenAI reports. */
  model: string;
  /** The routing table's model the message went to, and the backends (by name) whose answers hold the vectors. */
  routing: { model: string; backends: string[] };
  dimensions: number;
  usage: { prompt_tokens: number; total_tokens: number };
  items: EmbeddingItem[];
  metadata: Record<string, unknown>;
  /** When the message was enqueued (ISO 8601), so redeliveries produce the same bytes. */
  createdAt: string;
}

/** The queue pipelines' error record (src/queue-jobs/job-store.ts). */
export type EmbeddingsErrorRecord = JobErrorRecord;

export function outputBlobName(id: string): string {
  return `${id}.json`;
}

export class EmbeddingsStore extends JobStore {
  /** Writes the output blob (replacing any earlier one for the same id). @throws RestError from storage. */
  async writeOutput(output: EmbeddingsOutput): Promise<void> {
    await this.writeJson(outputBlobName(output.id), output);
  }

  /** Whether the output for `id` exists. @throws RestError from storage. */
  async hasOutput(id: string): Promise<boolean> {
    return this.container.getBlobClient(outputBlobName(id)).exists();
  }
}

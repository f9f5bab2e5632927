/**
 * Writes results and error records to the embeddings container:
 *   {id}.json        the embeddings, written once per successful delivery
 *   {id}.error.json  why a message was rejected, or why its last delivery failed
 *
 *   .handback/{uuid}.json  throttled work too large to hand back inline (see process-message.ts);
 *                    ids cannot start with '.', so these never collide with outputs
 *
 * Each blob is written with one Put Blob request, which storage applies atomically: readers see
 * the old blob or the new one, never part of one. The output's content depends only on the message
 * (createdAt is the message's enqueue time), so a redelivered message rewrites identical bytes.
 */
import { randomUUID } from "node:crypto";
import type { ContainerClient } from "@azure/storage-blob";
import type { EmbeddingItem } from "./embed-inputs.js";

export interface EmbeddingsOutput {
  id: string;
  deployment: string;
  model: string;
  dimensions: number;
  usage: { prompt_tokens: number; total_tokens: number };
  items: EmbeddingItem[];
  metadata: Record<string, unknown>;
  /** When the message was enqueued (ISO 8601), so redeliveries produce the same bytes. */
  createdAt: string;
}

export interface EmbeddingsErrorRecord {
  id: string;
  queueMessageId: string;
  /**
   * `rejected`: the message can never succeed and was completed without retries.
   * `retrying`: this delivery failed; the host retries it and, after host.json's
   *  maxDequeueCount deliveries, moves it to the `-poison` queue (this record then says why).
   *  Also written (kind `throttled`) when throttled work is handed back as a new message, which
   *  never poisons; the copy's success removes the record.
   */
  status: "rejected" | "retrying";
  kind: string;
  code: string | undefined;
  param: string | undefined;
  reason: string;
  dequeueCount: number;
  deployment: string | undefined;
  metadata: Record<string, unknown> | undefined;
  failedAt: string;
}

/** Prefix of hand-back blobs; message-schema.ts accepts references only to names under it. */
export const HANDBACK_PREFIX = ".handback/";

export function outputBlobName(id: string): string {
  return `${id}.json`;
}

export function errorBlobName(id: string): string {
  return `${id}.error.json`;
}

export class EmbeddingsStore {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly container: ContainerClient) {}

  /** Writes the output blob (replacing any earlier one for the same id). @throws RestError from storage. */
  async writeOutput(output: EmbeddingsOutput): Promise<void> {
    await this.writeJson(outputBlobName(output.id), output);
  }

  /** Writes the error record (replacing any earlier one for the same id). @throws RestError from storage. */
  async writeError(record: EmbeddingsErrorRecord): Promise<void> {
    await this.writeJson(errorBlobName(record.id), record);
  }

  /** The error record for `id`, or undefined when there is none. @throws RestError from storage. */
  async readError(id: string): Promise<EmbeddingsErrorRecord | undefined> {
    return this.readJson<EmbeddingsErrorRecord>(errorBlobName(id));
  }

  /** Whether the output for `id` exists. @throws RestError from storage. */
  async hasOutput(id: string): Promise<boolean> {
    return this.container.getBlobClient(outputBlobName(id)).exists();
  }

  /**
   * Stores a job whose hand-back copy would not fit on the queue, under a new name each time (two
   * messages may carry the same id). @returns the blob's name. @throws RestError from storage.
   */
  async writeHandback(job: unknown): Promise<string> {
    const name = `${HANDBACK_PREFIX}${randomUUID()}.json`;
    await this.writeJson(name, job);
    return name;
  }

  /** The stored job, or undefined when the blob is gone (or damaged: its work can't be done either). @throws RestError from storage. */
  async readHandback(name: string): Promise<unknown> {
    return this.readJson<unknown>(name);
  }

  /** Removes a hand-back blob once its work is done or can never be. @throws RestError from storage. */
  async deleteHandback(name: string): Promise<void> {
    await this.container.getBlockBlobClient(name).deleteIfExists();
  }

  /** Removes the record an earlier failed delivery left, once the message has succeeded. @throws RestError from storage. */
  async clearError(id: string): Promise<void> {
    await this.container.getBlockBlobClient(errorBlobName(id)).deleteIfExists();
  }

  /** A JSON blob, or undefined when it does not exist or is not JSON. */
  private async readJson<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse((await this.container.getBlobClient(name).downloadToBuffer()).toString("utf8")) as T;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404 || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  private async writeJson(name: string, value: unknown): Promise<void> {
    await this.ensureContainer();
    const body = JSON.stringify(value);
    await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: "application/json; charset=utf-8" },
    });
  }

  private async ensureContainer(): Promise<void> {
    // Once per process; forgotten on failure so the next message tries again.
    this.ready ??= this.container.createIfNotExists().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
  }
}

/**
 * The blobs a queue pipeline keeps next to its outputs, in its own container:
 *   {id}.error.json        why a message was rejected, or why its last delivery failed
 *   .handback/{uuid}.json  throttled work too large to hand back inline (see run-job.ts); ids
 *                          cannot start with '.', so these never collide with outputs
 * Pipelines extend it with their outputs. Each blob is written with one Put Blob request, which
 * storage applies atomically: readers see the old blob or the new one, never part of one.
 */
import { randomUUID } from "node:crypto";
import type { BlockBlobUploadOptions, ContainerClient } from "@azure/storage-blob";
import { HANDBACK_PREFIX } from "./payload.js";

export interface JobErrorRecord {
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
  /** The routing table's model the work was for (the message's, or the pipeline's default). */
  model?: string | undefined;
  metadata: Record<string, unknown> | undefined;
  failedAt: string;
}

export function errorBlobName(id: string): string {
  return `${id}.error.json`;
}

export class JobStore {
  private ready: Promise<unknown> | undefined;

  constructor(readonly container: ContainerClient) {}

  /** Writes the error record (replacing any earlier one for the same id). @throws RestError from storage. */
  async writeError(record: JobErrorRecord): Promise<void> {
    await this.writeJson(errorBlobName(record.id), record);
  }

  /** The error record for `id`, or undefined when there is none. @throws RestError from storage. */
  async readError(id: string): Promise<JobErrorRecord | undefined> {
    return this.readJson<JobErrorRecord>(errorBlobName(id));
  }

  /** Removes the record an earlier failed delivery left, once the message has succeeded. @throws RestError from storage. */
  async clearError(id: string): Promise<void> {
    await this.container.getBlockBlobClient(errorBlobName(id)).deleteIfExists();
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

  /** A JSON blob, or undefined when it does not exist or is not JSON. */
  async readJson<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse((await this.container.getBlobClient(name).downloadToBuffer()).toString("utf8")) as T;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404 || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  /** Writes `value` as one JSON blob with a single Put Blob. @throws RestError from storage (412/409 for unmet `options.conditions`). */
  async writeJson(name: string, value: unknown, options: BlockBlobUploadOptions = {}): Promise<void> {
    const body = JSON.stringify(value);
    await this.writeBytes(name, Buffer.from(body, "utf8"), "application/json; charset=utf-8", options);
  }

  /** Writes `bytes` as one blob with a single Put Blob (atomic: never seen half-written). @throws RestError from storage. */
  async writeBytes(name: string, bytes: Uint8Array, contentType: string, options: BlockBlobUploadOptions = {}): Promise<void> {
    await this.ensureContainer();
    await this.container.getBlockBlobClient(name).upload(bytes, bytes.byteLength, {
      ...options,
      blobHTTPHeaders: { blobContentType: contentType },
    });
  }

  /** Creates the container once per process; forgotten on failure so the next message tries again. */
  async ensureContainer(): Promise<void> {
    this.ready ??= this.container.createIfNotExists().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
  }
}

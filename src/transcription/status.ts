/**
 * The status record `{transcripts}/{name}.status.json`: what happened to one audio file, for the
 * GET endpoint and for people looking in the container. Writes are serialised per file so a slow
 * progress update can never overwrite a later one.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { FailureKind } from "../errors.js";
import type { OutputFormat, TranscriptionOptions } from "./options.js";
import { readJsonBlob, writeBlobWhole } from "./blob-io.js";
import type { TranscriptionUsage } from "./writers.js";

export type TranscriptionState = "queued" | "running" | "succeeded" | "failed";

export interface TranscriptionStatus {
  name: string;
  state: TranscriptionState;
  source: { container: string; name: string; etag?: string; bytes?: number; format?: string; durationInSeconds?: number };
  options?: TranscriptionOptions;
  progress: { chunksDone: number; chunksTotal: number };
  /** Invocations so far for this version (ETag) of the blob. */
  attempts: number;
  error?: {
    kind: FailureKind;
    code?: string;
    message: string;
    /** True while the host will try again; false once the status is final. */
    willRetry: boolean;
    details?: unknown;
  };
  timings: { uploadedAt?: string; startedAt?: string; finishedAt?: string; elapsedInMs?: number; chunkLatenciesInMs?: number[] };
  usage?: TranscriptionUsage;
  /** Output blob names in the transcripts container, by format. */
  outputs: Partial<Record<OutputFormat, string>>;
  updatedAt: string;
}

export function statusBlobName(name: string): string {
  return `${name}.status.json`;
}

export function outputBlobName(name: string, format: OutputFormat): string {
  return `${name}.${format}`;
}

/** Reads a status record, or undefined when there is none. */
export async function readStatus(container: ContainerClient, name: string): Promise<TranscriptionStatus | undefined> {
  return readJsonBlob<TranscriptionStatus>(container.getBlockBlobClient(statusBlobName(name)));
}

/** Keeps the latest status of one file and writes each change in order. */
export class StatusReporter {
  #status: TranscriptionStatus;
  #writes: Promise<void> = Promise.resolve();
  #container: ContainerClient;
  #now: () => Date;

  constructor(container: ContainerClient, initial: TranscriptionStatus, now: () => Date = () => new Date()) {
    this.#container = container;
    this.#status = initial;
    this.#now = now;
  }

  get current(): TranscriptionStatus {
    return this.#status;
  }

  /** Applies a change and writes the record; resolves when this write (and every earlier one) is stored. */
  update(change: (status: TranscriptionStatus) => TranscriptionStatus): Promise<void> {
    this.#status = { ...change(this.#status), updatedAt: this.#now().toISOString() };
    const snapshot = JSON.stringify(this.#status, null, 2) + "\n";
    const etag = this.#status.source.etag;
    const blob = this.#container.getBlockBlobClient(statusBlobName(this.#status.name));
    this.#writes = this.#writes.catch(() => undefined).then(() => writeBlobWhole(blob, snapshot, "application/json; charset=utf-8", etag));
    return this.#writes;
  }
}

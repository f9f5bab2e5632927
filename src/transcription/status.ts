/**
 * The status record `{transcripts}/{name}.status.json`: what happened to one audio file, for the
 * GET endpoint and for people looking in the container. Writes are serialised per file so a slow
 * progress update can never overwrite a later one.
 */
import type { BlobRequestConditions, ContainerClient } from "@azure/storage-blob";
import type { FailureKind } from "../errors.js";
import type { OutputFormat, TranscriptionOptions } from "./options.js";
import { isConditionFailed, readJsonBlob, readJsonBlobWithEtag, writeBlobWhole } from "./blob-io.js";
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
  /**
   * The run working on this version, while one is: another delivery of the same version waits for
   * it to end, or for `expiresAt` to pass (the run died), instead of billing the same audio twice.
   * The run pushes `expiresAt` forward while it works.
   */
  claim?: { runId: string; expiresAt: string };
  updatedAt: string;
}

export function statusBlobName(name: string): string {
  return `${name}.status.json`;
}

export function outputBlobName(name: string, format: OutputFormat): string {
  return `${name}.${format}`;
}

/**
 * Writes the whole status record in one request, if `conditions` hold; returns the new ETag.
 * Every writer of the record (the run, its claim, the host's give-up) goes through here.
 * @throws RestError from storage (isConditionFailed tells a lost condition).
 */
export async function writeStatusRecord(
  container: ContainerClient,
  status: TranscriptionStatus,
  conditions: BlobRequestConditions,
): Promise<{ etag?: string }> {
  const blob = container.getBlockBlobClient(statusBlobName(status.name));
  return writeBlobWhole(blob, JSON.stringify(status, null, 2) + "\n", "application/json; charset=utf-8", status.source.etag, conditions);
}

/** Reads a status record, or undefined when there is none. */
export async function readStatus(container: ContainerClient, name: string): Promise<TranscriptionStatus | undefined> {
  return readJsonBlob<TranscriptionStatus>(container.getBlockBlobClient(statusBlobName(name)));
}

/**
 * Why a run stopped without finishing: a newer version of the blob, another run for the same version,
 * or the host's give-up took the status record over. Not a failure: the run stands down and leaves
 * the record, and the outputs, to whoever owns them now.
 */
export class SupersededError extends Error {
  /** True when the blob was overwritten (this version's work is moot), false when another run of it took over. */
  readonly versionGone: boolean;
  constructor(reason: string, versionGone: boolean) {
    super(reason);
    this.name = "SupersededError";
    this.versionGone = versionGone;
  }
}

export interface StatusReporterDeps {
  container: ContainerClient;
  now?: () => Date;
  /** Whether the run's version is still the audio blob's current one (asked after a write conflict). */
  isCurrent: () => Promise<boolean>;
  /** This run's id, as its claim names it. */
  runId: string;
}

/** Conditional writes that lost to another writer and were retaken, before giving up. */
const RETAKE_ROUNDS = 3;

/**
 * Keeps the latest status of one file and writes each change in order, each conditional on the
 * record being as this run last wrote it. When someone else wrote it in between:
 * - a run for an older version of the blob (it lost a race with this one): this run, whose version
 *   is still current, writes its own status over it;
 * - anyone else (a newer version's run, another run for the same version, the host's give-up):
 *   the write fails with SupersededError, and so does every later one.
 */
export class StatusReporter {
  #status: TranscriptionStatus;
  #recordEtag: string | undefined;
  #writes: Promise<void> = Promise.resolve();
  #superseded: SupersededError | undefined;
  #deps: StatusReporterDeps;

  /** @param recordEtag ETag of the record this run read (undefined: there was none). */
  constructor(deps: StatusReporterDeps, initial: TranscriptionStatus, recordEtag: string | undefined) {
    this.#deps = deps;
    this.#status = initial;
    this.#recordEtag = recordEtag;
  }

  get current(): TranscriptionStatus {
    return this.#status;
  }

  /** The reason this run lost its record, once it has. */
  get superseded(): SupersededError | undefined {
    return this.#superseded;
  }

  /**
   * Applies a change and writes the record; resolves when this write (and every earlier one) is stored.
   * @throws SupersededError when the record now belongs to someone else; storage errors as they come.
   */
  update(change: (status: TranscriptionStatus) => TranscriptionStatus): Promise<void> {
    const status = this.#apply(change);
    this.#writes = this.#writes.catch(() => undefined).then(() => this.#write(status));
    return this.#writes;
  }

  /**
   * Writes a last change only if the record is still as this run last wrote it (no retaking), for a
   * run that stands down and leaves a final word where nobody else has written since.
   * @returns whether it was written.
   */
  async finishIfStillMine(change: (status: TranscriptionStatus) => TranscriptionStatus): Promise<boolean> {
    await this.#writes.catch(() => undefined);
    if (!this.#recordEtag) return false;
    try {
      await writeStatusRecord(this.#deps.container, this.#apply(change), { ifMatch: this.#recordEtag });
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  #apply(change: (status: TranscriptionStatus) => TranscriptionStatus): TranscriptionStatus {
    this.#status = { ...change(this.#status), updatedAt: (this.#deps.now ?? (() => new Date()))().toISOString() };
    return this.#status;
  }

  async #write(status: TranscriptionStatus): Promise<void> {
    if (this.#superseded) throw this.#superseded;
    const etag = status.source.etag;
    for (let round = 0; ; round++) {
      try {
        const written = await writeStatusRecord(
          this.#deps.container,
          status,
          this.#recordEtag ? { ifMatch: this.#recordEtag } : { ifNoneMatch: "*" },
        );
        this.#recordEtag = written.etag;
        return;
      } catch (error) {
        if (!isConditionFailed(error) || round >= RETAKE_ROUNDS) throw error;
      }
      const blob = this.#deps.container.getBlockBlobClient(statusBlobName(status.name));
      const found = await readJsonBlobWithEtag<TranscriptionStatus>(blob);
      if (!(await this.#deps.isCurrent())) {
        throw (this.#superseded = new SupersededError(
          `the audio blob was overwritten while version ${etag} was being transcribed; the newer version is transcribed on its own`,
          true,
        ));
      }
      const other = found.value;
      // This run's own earlier write landed though its answer was lost (the storage client then
      // retried it and met its own new ETag): the record is still this run's.
      if (other?.claim?.runId === this.#deps.runId && other.source.etag === etag) {
        this.#recordEtag = found.etag;
        continue;
      }
      if (other && other.source.etag === etag) {
        const by = other.claim ? `run ${other.claim.runId}` : `the host (state ${other.state})`;
        throw (this.#superseded = new SupersededError(`the status of version ${etag} was taken over by ${by}`, false));
      }
      // An older version's run wrote last; this version is the current one, so its status wins.
      this.#recordEtag = found.etag;
    }
  }
}

/**
 * When the Functions host gives up on an audio blob (its delivery limit, host.json
 * `extensions.blobs.poisonBlobThreshold`, is spent) it writes a message to the storage account's
 * `webjobs-blobtrigger-poison` queue. The pipeline records its own final failure on the last
 * delivery, but three cases never reach that code, and left the status saying `running` or
 * "the host will retry" forever:
 * - the worker stopped or the function timed out (host.json `functionTimeout`) mid-job;
 * - deliveries failed before the first status write (storage errors), so `attempts` undercounts;
 * - `poisonBlobThreshold` was set lower than the pipeline's attempt limit.
 * This turns each such message into a final `failed` status that says why and how to retry.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import { z } from "zod";
import type { Logger } from "../logging.js";
import { isNotFound, stripQuotes } from "./blob-io.js";
import { StatusReporter, readStatus, type TranscriptionStatus } from "./status.js";

/** The transcription function's id in the host's messages. */
export const TRANSCRIBE_FUNCTION_ID = "Host.Functions.transcribeAudio";

/** The host's blob trigger message (WebJobs storage extension, `BlobTriggerMessage`). */
const poisonMessageSchema = z.object({
  Type: z.literal("BlobTrigger"),
  FunctionId: z.string(),
  ContainerName: z.string().min(1),
  BlobName: z.string().min(1),
  ETag: z.string(),
});

export interface GivenUpDeps {
  blobService: BlobServiceClient;
  audioContainer: string;
  transcriptsContainer: string;
  logger: Logger;
  now?: () => Date;
}

export type GivenUpOutcome =
  | { recorded: true; status: TranscriptionStatus }
  | { recorded: false; reason: string };

/**
 * Records the host's give-up in `{transcripts}/{name}.status.json`, unless the status is already
 * final for that version of the blob or the blob has changed since.
 * @throws storage errors (the host then delivers the message again).
 */
export async function recordGivenUp(deps: GivenUpDeps, body: unknown): Promise<GivenUpOutcome> {
  const parsed = poisonMessageSchema.safeParse(typeof body === "string" ? parseJson(body) : body);
  // The app's storage account is its own (infra/ provisions it), so anything else here is not
  // expected; it is logged whole, so nothing it said is lost with the message.
  if (!parsed.success) return ignore(deps, `not a blob trigger poison message: ${JSON.stringify(body)}`);
  const message = parsed.data;
  if (message.FunctionId !== TRANSCRIBE_FUNCTION_ID || message.ContainerName !== deps.audioContainer) {
    return ignore(deps, `a poison message for ${message.FunctionId} (${message.ContainerName}/${message.BlobName}), not for transcriptions: ${JSON.stringify(body)}`);
  }
  const name = message.BlobName;
  const etag = stripQuotes(message.ETag);
  let properties;
  try {
    properties = await deps.blobService.getContainerClient(deps.audioContainer).getBlobClient(name).getProperties();
  } catch (error) {
    if (isNotFound(error)) return skip(deps, name, "the audio blob has been deleted since");
    throw error;
  }
  if (properties.etag && stripQuotes(properties.etag) !== etag) {
    return skip(deps, name, `the blob was overwritten since (ETag ${etag} is now ${stripQuotes(properties.etag)}); the newer version is transcribed on its own`);
  }
  const transcripts = deps.blobService.getContainerClient(deps.transcriptsContainer);
  const found = await readStatus(transcripts, name);
  const previous = found?.source.etag === etag ? found : undefined;
  if (previous?.state === "succeeded" || (previous?.state === "failed" && previous.error?.willRetry === false)) {
    return skip(deps, name, `its status is already final (${previous.state})`);
  }
  const now = deps.now ?? (() => new Date());
  const status = new StatusReporter(
    transcripts,
    previous ?? {
      name,
      state: "failed",
      source: { container: deps.audioContainer, name, etag, bytes: properties.contentLength },
      progress: { chunksDone: 0, chunksTotal: 0 },
      attempts: 0,
      timings: { uploadedAt: properties.lastModified?.toISOString() },
      outputs: {},
      updatedAt: now().toISOString(),
    },
    now,
  );
  await status.update((s) => ({
    ...s,
    state: "failed",
    error: { kind: previous?.error?.kind ?? "transient", code: "delivery_limit_reached", message: explain(previous), willRetry: false },
    timings: { ...s.timings, finishedAt: now().toISOString() },
  }));
  deps.logger.error(`Transcription of ${deps.audioContainer}/${name} given up by the host: ${status.current.error!.message}`);
  return { recorded: true, status: status.current };
}

const RETRY_HINT = "Upload the file again to try again.";

/** Why the host gave up, from what the last attempt recorded. */
function explain(previous: TranscriptionStatus | undefined): string {
  const start = "The Functions host gave up on this file after its last delivery (host.json extensions.blobs.poisonBlobThreshold)";
  if (!previous) {
    return `${start}, before any attempt could record its progress: deliveries failed before the status was first written (storage errors, see the function's logs). ${RETRY_HINT}`;
  }
  if (previous.state === "running") {
    const { chunksDone, chunksTotal } = previous.progress;
    return `${start}. Attempt ${previous.attempts} stopped while it was running (${chunksDone} of ${chunksTotal} chunks done): the worker was stopped or the function timed out (host.json functionTimeout); see the function's logs. ${RETRY_HINT}`;
  }
  const last = previous.error?.message.replace(/ \(attempt \d+ of \d+; the host will retry\)$/, "");
  return `${start}, after ${previous.attempts} attempt(s)${last ? `. The last one failed: ${last}` : ""}. ${RETRY_HINT}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function ignore(deps: GivenUpDeps, what: string): GivenUpOutcome {
  deps.logger.warn(`Removed ${what}`);
  return { recorded: false, reason: what };
}

function skip(deps: GivenUpDeps, name: string, reason: string): GivenUpOutcome {
  deps.logger.info(`The host gave up on ${deps.audioContainer}/${name}, nothing to record: ${reason}`);
  return { recorded: false, reason };
}

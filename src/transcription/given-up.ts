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
import type { BlobGetPropertiesResponse, BlobServiceClient } from "@azure/storage-blob";
import { z } from "zod";
import { withHint } from "../errors.js";
import { MAX_JSON_DEPTH, pathDeeperThan } from "../json-depth.js";
import type { Logger } from "../logging.js";
import { currentEtag, isConditionFailed, isNotFound, readJsonBlobWithEtag, stripQuotes } from "./blob-io.js";
import { statusBlobName, writeStatusRecord, type TranscriptionStatus } from "./status.js";
import { recordPipelineItem } from "../metrics/index.js";

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

export type GivenUpOutcome = { recorded: true; status: TranscriptionStatus } | { recorded: false; reason: string };

/** Attempts at the conditional write before giving the message back to the host. */
const WRITE_ROUNDS = 3;

/**
 * Records the host's give-up in `{transcripts}/{name}.status.json`, unless the status is already
 * final for that version of the blob or the blob has been overwritten since. The record is
 * rewritten only if nobody changed it since it was read (a run still writing wins, and the
 * decision is made again on what it wrote).
 * @throws storage errors (the host then delivers the message again).
 */
export async function recordGivenUp(deps: GivenUpDeps, body: unknown): Promise<GivenUpOutcome> {
  const decoded = decode(body);
  const tooDeep = pathDeeperThan(decoded);
  // Nothing the host writes nests like this; printing it whole would overflow the stack too.
  if (tooDeep)
    return ignore(
      deps,
      `not a blob trigger poison message: JSON nested more than ${MAX_JSON_DEPTH} levels deep (at ${tooDeep.slice(0, 6).join(".")}), ${String(typeof body === "string" ? body.length : "?")} characters`,
    );
  const parsed = poisonMessageSchema.safeParse(decoded);
  // The app's storage account is its own (infra/ provisions it), so anything else here is not
  // expected; it is logged whole, so nothing it said is lost with the message.
  if (!parsed.success) return ignore(deps, `not a blob trigger poison message: ${JSON.stringify(body)}`);
  const message = parsed.data;
  if (message.FunctionId !== TRANSCRIBE_FUNCTION_ID || message.ContainerName !== deps.audioContainer) {
    return ignore(
      deps,
      `a poison message for ${message.FunctionId} (${message.ContainerName}/${message.BlobName}), not for transcriptions: ${JSON.stringify(body)}`,
    );
  }
  // The host gave up on this blob, whatever its status record says next.
  recordPipelineItem("transcription", "given_up");
  const name = message.BlobName;
  const etag = stripQuotes(message.ETag);
  let properties: BlobGetPropertiesResponse | undefined;
  try {
    properties = await deps.blobService.getContainerClient(deps.audioContainer).getBlobClient(name).getProperties();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (properties?.etag && stripQuotes(properties.etag) !== etag) {
    return skip(
      deps,
      name,
      `the blob was overwritten since (ETag ${etag} is now ${stripQuotes(properties.etag)}); the newer version is transcribed on its own`,
    );
  }
  const record = deps.blobService.getContainerClient(deps.transcriptsContainer).getBlockBlobClient(statusBlobName(name));
  const now = deps.now ?? (() => new Date());
  for (let round = 1; ; round++) {
    const found = await readJsonBlobWithEtag<TranscriptionStatus>(record);
    // Asked again after the record was read: a newer version's record written since then fails the
    // conditional write below, and one written before it shows here as an overwritten blob.
    if (properties) {
      const now = await currentEtag(deps.blobService.getContainerClient(deps.audioContainer).getBlobClient(name));
      if (now !== undefined && now !== etag)
        return skip(deps, name, `the blob was overwritten since (ETag ${etag} is now ${now}); the newer version is transcribed on its own`);
    }
    const previous = found.value?.source.etag === etag ? found.value : undefined;
    if (previous?.state === "succeeded" || (previous?.state === "failed" && previous.error?.willRetry === false)) {
      return skip(deps, name, `its status is already final (${previous.state})`);
    }
    // A deleted blob with no unfinished record of this version leaves nothing to correct.
    if (!properties && !previous) return skip(deps, name, "the audio blob has been deleted since");
    const base: TranscriptionStatus = previous ?? {
      name,
      state: "failed",
      source: { container: deps.audioContainer, name, etag, bytes: properties?.contentLength },
      progress: { chunksDone: 0, chunksTotal: 0 },
      attempts: 0,
      timings: { uploadedAt: properties?.lastModified?.toISOString() },
      outputs: {},
      updatedAt: "",
    };
    const finished = now().toISOString();
    const status: TranscriptionStatus = {
      ...base,
      // The run that held it is gone (that is why the host gave up).
      claim: undefined,
      state: "failed",
      error: {
        kind: previous?.error?.kind ?? "transient",
        code: properties ? "delivery_limit_reached" : "audio_deleted",
        message: properties
          ? explain(previous)
          : `The audio blob was deleted before it could be transcribed. Upload it again to transcribe it.`,
        willRetry: false,
      },
      timings: { ...base.timings, finishedAt: finished },
      updatedAt: finished,
    };
    try {
      await writeStatusRecord(
        deps.blobService.getContainerClient(deps.transcriptsContainer),
        status,
        found.etag ? { ifMatch: found.etag } : { ifNoneMatch: "*" },
      );
    } catch (error) {
      if (isConditionFailed(error) && round < WRITE_ROUNDS) continue;
      throw error;
    }
    deps.logger.error(`Transcription of ${deps.audioContainer}/${name} given up by the host: ${status.error!.message}`);
    return { recorded: true, status };
  }
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
  const last = previous.error?.message;
  return withHint(`${start}, after ${previous.attempts} attempt(s)${last ? `. The last one failed: ${last}` : ""}`, RETRY_HINT);
}

/**
 * The message as JSON: the library parses JSON text already; a string left over is JSON text or,
 * if the host's and the queue trigger's encodings ever differ, base64 of it.
 */
function decode(body: unknown): unknown {
  if (typeof body !== "string") return body;
  for (const text of [body, Buffer.from(body, "base64").toString("utf8")]) {
    try {
      return JSON.parse(text);
    } catch {
      // try the next reading
    }
  }
  return body;
}

function ignore(deps: GivenUpDeps, what: string): GivenUpOutcome {
  deps.logger.warn(`Removed ${what}`);
  return { recorded: false, reason: what };
}

function skip(deps: GivenUpDeps, name: string, reason: string): GivenUpOutcome {
  deps.logger.info(`The host gave up on ${deps.audioContainer}/${name}, nothing to record: ${reason}`);
  return { recorded: false, reason };
}

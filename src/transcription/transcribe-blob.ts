/**
 * The transcription pipeline for one audio blob: skip what is already done, claim the version,
 * check the audio and the options, plan chunks, transcribe the ones not done yet in parallel with
 * bounded concurrency, stitch, write every output whole, and keep the status record current
 * throughout.
 *
 * Several runs may meet on one blob (instances scale out; an overwrite starts a run per version):
 * - two runs for the same version: the first to claim it works, the other waits for it to end and
 *   bills nothing (run-claim.ts); a run that died frees its claim when the claim expires;
 * - a run for an older version never replaces a newer version's status or outputs: every write is
 *   conditional on what it replaces (status.ts, version-writes.ts), and the older run stands down;
 * - finished chunks are kept per version (chunk-store.ts), so a redelivery resumes.
 *
 * A failure does what src/failure-actions.ts decides for its kind (the blob action):
 * - fail (bad_input, upstream_permanent): status `failed` with the reason; returns normally, so
 *   the host does not retry something that cannot succeed.
 * - retry (throttled, transient, configuration, cancelled): status `queued` with the reason and
 *   `willRetry`, then rethrows so the host redelivers; on the last delivery the host allows
 *   (host.json `poisonBlobThreshold`) the status becomes `failed` instead, so a user always sees why.
 * The source blob is only ever read.
 */
import { randomUUID } from "node:crypto";
import type { BlobClient, BlobGetPropertiesResponse, BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { classifyError, type AppError } from "../errors.js";
import { failureActions } from "../failure-actions.js";
import type { Logger } from "../logging.js";
import { detectAudioFormat } from "./audio-format.js";
import { currentEtag, isNotFound, readSourceEtag, stripQuotes } from "./blob-io.js";
import { ChunkStore, planKey } from "./chunk-store.js";
import { planChunks, type AudioPlan } from "./chunk-plan.js";
import { OUTPUT_FORMATS, parseTranscriptionOptions, type TranscriptionOptions } from "./options.js";
import { claimVersion, startHeartbeat, type ClaimDeps } from "./run-claim.js";
import { StatusReporter, SupersededError, outputBlobName, type TranscriptionStatus } from "./status.js";
import { stitchTranscripts } from "./stitch.js";
import { removeIfStale, writeForVersion, type VersionedWriteDeps } from "./version-writes.js";
import type { RetryPolicy } from "../openai/retry-policy.js";
import type { Router } from "../routing/index.js";
import { modelsServing } from "../routing/table.js";
import { billedSeconds, chunkBackends, transcribeChunks } from "./transcribe-chunks.js";
import { BadInputError } from "../errors.js";
import { KNOWN_SPEAKERS_ALLOWANCE_BYTES } from "./speakers.js";
import {
  MODEL_ABILITIES,
  TIMED_PIECE_SECONDS,
  maxChunkSecondsFor,
  needsTimedPieces,
  tableModelKind,
  type TranscriptionModelKind,
} from "./transcription-models.js";
import type { ChunkResult } from "./whisper.js";
import { CONTENT_TYPES, renderOutput, type TranscriptDocument } from "./writers.js";
import { recordPipelineItem, recordQueueAge } from "../metrics/index.js";

/** Deliveries the host makes before giving up on a blob: host.json `extensions.blobs.poisonBlobThreshold`. */
export const DEFAULT_MAX_ATTEMPTS = 5;

export interface TranscribeBlobDeps {
  /** Sends each chunk to a backend of the blob's model (src/routing/). */
  router: Router;
  /** The model a blob without `model` metadata uses (AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT). */
  defaultModel: string;
  blobService: BlobServiceClient;
  audioContainer: string;
  transcriptsContainer: string;
  maxChunkBytes: number;
  maxConcurrency: number;
  logger: Logger;
  /** Defaults to DEFAULT_MAX_ATTEMPTS; keep in step with host.json. */
  maxAttempts?: number;
  /** The retry policy of the pipeline (src/openai/retry-policy.ts). */
  retry: RetryPolicy;
  now?: () => Date;
  /** How long a run's claim on a version holds without a heartbeat (run-claim.ts). */
  claimTtlInMs?: number;
  /** Longest wait for another run of the same version before handing the delivery back to the host. */
  claimWaitInMs?: number;
  claimPollInMs?: number;
}

/**
 * A dead run's claim frees its version this long after its last heartbeat (TRANSCRIPTION_CLAIM_TTL_MS).
 * Longer than the storage client's own retries of one renewal (about 16 s), so a slow renewal does
 * not hand a live run's version to a duplicate delivery.
 */
export const DEFAULT_CLAIM_TTL_IN_MS = 60_000;
/** Under host.json's functionTimeout (10 minutes), so a waiting delivery hands back before it is killed. */
export const DEFAULT_CLAIM_WAIT_IN_MS = 8 * 60_000;

export interface AudioBlob {
  /** Blob name inside the audio container (may contain `/`). */
  name: string;
  /** The whole blob as the trigger delivered it; only read, sliced with views. */
  content: Uint8Array;
  /** ETag of the version the trigger delivered, when the trigger says (it does on Azure and locally). */
  etag?: string;
}

export type TranscribeOutcome =
  | { state: "succeeded"; status: TranscriptionStatus }
  | { state: "failed"; status: TranscriptionStatus }
  | { state: "skipped"; reason: string };

/**
 * Transcribes one audio blob into the transcripts container.
 * @throws AppError whose blob action is `retry` (src/failure-actions.ts) while deliveries
 *   remain, after recording it in the status, so the host retries the blob.
 */
export async function transcribeBlob(deps: TranscribeBlobDeps, blob: AudioBlob): Promise<TranscribeOutcome> {
  try {
    const outcome = await transcribeDelivery(deps, blob);
    // Skipped deliveries (a version done or being done, a deleted blob) are no item of their own.
    if (outcome.state !== "skipped") recordPipelineItem("transcription", outcome.state === "succeeded" ? "processed" : "rejected");
    return outcome;
  } catch (error) {
    // The host delivers the blob again; after its last delivery it gives up (given-up.ts counts that).
    recordPipelineItem("transcription", "retried");
    throw error;
  }
}

async function transcribeDelivery(deps: TranscribeBlobDeps, blob: AudioBlob): Promise<TranscribeOutcome> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const transcripts = deps.blobService.getContainerClient(deps.transcriptsContainer);
  const source = deps.blobService.getContainerClient(deps.audioContainer).getBlobClient(blob.name);

  let properties;
  try {
    properties = await source.getProperties();
  } catch (error) {
    if (isNotFound(error)) return skip(deps, blob, "the audio blob was deleted before it could be transcribed");
    throw classifyError(error);
  }
  // A blob's queue age: from its upload to the app seeing it (the trigger's scan or Event Grid's delay).
  if (properties.lastModified) recordQueueAge("transcription", now().getTime() - properties.lastModified.getTime());
  const etag = stripQuotes(blob.etag ?? properties.etag ?? "");
  if (blob.etag && properties.etag && stripQuotes(properties.etag) !== etag) {
    // The delivered bytes are an older version; the newer one has its own trigger and outputs.
    return skip(
      deps,
      blob,
      `the blob was overwritten (ETag ${etag} is now ${stripQuotes(properties.etag)}); the newer version is transcribed on its own`,
    );
  }

  await transcripts.createIfNotExists();
  // A deleted blob is no version's: undefined never equals the ETag.
  const isCurrent = async () => (await currentEtag(source)) === etag;
  const runId = randomUUID();
  const claimDeps: ClaimDeps = {
    container: transcripts,
    now,
    isCurrent,
    ttlInMs: deps.claimTtlInMs ?? DEFAULT_CLAIM_TTL_IN_MS,
    waitInMs: deps.claimWaitInMs ?? DEFAULT_CLAIM_WAIT_IN_MS,
    pollInMs: deps.claimPollInMs ?? 1000,
  };
  const maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const claim = await claimVersion(claimDeps, {
    name: blob.name,
    etag,
    runId,
    isDone: (previous) => isComplete(transcripts, previous, etag),
    initial: (previous) => ({
      name: blob.name,
      state: "running",
      source: { container: deps.audioContainer, name: blob.name, etag, bytes: blob.content.byteLength },
      progress: { chunksDone: 0, chunksTotal: 0 },
      attempts: previous ? previous.attempts + 1 : 1,
      timings: { uploadedAt: properties.lastModified?.toISOString(), startedAt: started.toISOString() },
      outputs: {},
      updatedAt: started.toISOString(),
    }),
  });
  if (!claim.claimed) return skip(deps, blob, claim.reason);
  deps.logger.info(
    `Transcribing ${deps.audioContainer}/${blob.name} (${blob.content.byteLength} bytes, ETag ${etag}, attempt ${claim.reporter.current.attempts} of ${maxAttempts}, run ${runId})`,
  );
  return runClaimedVersion({
    deps,
    blob,
    properties,
    etag,
    transcripts,
    source,
    status: claim.reporter,
    runId,
    claimDeps,
    maxAttempts,
    now,
    started,
  });
}

/** What a run that holds its version's claim works with. */
interface ClaimedRun {
  deps: TranscribeBlobDeps;
  blob: AudioBlob;
  properties: BlobGetPropertiesResponse;
  etag: string;
  transcripts: ContainerClient;
  source: BlobClient;
  status: StatusReporter;
  runId: string;
  claimDeps: ClaimDeps;
  maxAttempts: number;
  now: () => Date;
  started: Date;
}

/**
 * Transcribes the claimed version and writes its outputs, keeping the claim alive meanwhile.
 * @throws as transcribeBlob.
 */
async function runClaimedVersion(run: ClaimedRun): Promise<TranscribeOutcome> {
  const { deps, blob, properties, etag, transcripts, status, now, started } = run;
  // A heartbeat that finds the record taken over stops the Whisper calls at once.
  const lost = new AbortController();
  const stopHeartbeat = startHeartbeat(
    run.claimDeps,
    status,
    run.runId,
    (error) => lost.abort(error),
    (line) => deps.logger.warn(line),
  );
  const chunkStore = new ChunkStore(transcripts, blob.name, etag);
  const versioned: VersionedWriteDeps = { isCurrent: run.claimDeps.isCurrent };
  try {
    const kindOf = tableModelKind(deps.router.table);
    const options = parseTranscriptionOptions(properties.metadata ?? {}, transcriptionModels(deps), kindOf);
    const route = deps.router.route("transcription", options.model ?? deps.defaultModel);
    const kind = kindOf(route.model);
    const format = detectAudioFormat(blob.content);
    const plan = await planChunks(blob.content, format, {
      // The diarizing model's later chunks carry reference clips too; near Azure's 25 MB they must fit beside the chunk.
      maxChunkBytes: MODEL_ABILITIES[kind].diarize
        ? Math.max(Math.floor(deps.maxChunkBytes / 2), deps.maxChunkBytes - KNOWN_SPEAKERS_ALLOWANCE_BYTES)
        : deps.maxChunkBytes,
      // A model that gives no times is sent short pieces, each a cue with real start and end times;
      // the others no more audio than a request of theirs may hold.
      ...(needsTimedPieces(kind)
        ? { maxChunkSeconds: TIMED_PIECE_SECONDS }
        : maxChunkSecondsFor(kind) !== undefined
          ? { maxChunkSeconds: maxChunkSecondsFor(kind) }
          : {}),
    });
    checkCueTimes(plan, options, kind, route.model);
    const chunkPlanKey = planKey({
      // Named `deployment` as before routing, when the model was the deployment: without a routing
      // table (or with aliases equal to their deployments) chunks kept before the upgrade still match.
      // A model whose alias differs from its deployment starts afresh once (its chunks are paid again).
      deployment: route.model,
      options,
      chunks: plan.chunks.map((c) => [c.startInSeconds, c.endInSeconds ?? null, c.byteLength]),
    });
    const resumed = await chunkStore.load(chunkPlanKey);
    await status.update((s) => ({
      ...s,
      options,
      source: { ...s.source, format, durationInSeconds: plan.durationInSeconds },
      progress: { chunksDone: resumed.size, chunksTotal: plan.chunks.length },
    }));
    if (resumed.size > 0)
      deps.logger.info(
        `Resuming ${deps.audioContainer}/${blob.name}: ${resumed.size} of ${plan.chunks.length} chunk(s) were finished by an earlier attempt`,
      );
    const results = await transcribeChunks(
      { ...deps, route, caller: "pipeline:transcription" },
      {
        plan,
        options,
        sourceName: `${deps.audioContainer}/${blob.name}`,
        signal: lost.signal,
        resumed,
        keep: (index, result) => chunkStore.save(chunkPlanKey, index, result),
        onProgress: (chunksDone, chunksTotal) => status.update((s) => ({ ...s, progress: { chunksDone, chunksTotal } })),
        // A retryable failure lets the chunks in flight finish and be kept: Azure bills them anyway,
        // and the redelivery then does not pay for them again.
        finishInFlight: (error) => !(error instanceof SupersededError) && failureActions(classifyError(error)).blob === "retry",
        kind,
        audio: blob.content,
        ...(options.words ? { words: true } : {}),
      },
    );
    const document = buildDocument(deps, blob, plan, options, results, route.model);
    const outputs = await writeOutputs(versioned, transcripts, blob.name, document, options, etag);
    await removeStaleOutputs(versioned, transcripts, blob.name, etag, options.formats);
    const finished = now();
    await status.update((s) => ({
      ...s,
      state: "succeeded",
      error: undefined,
      claim: undefined,
      usage: document.usage,
      outputs,
      timings: {
        ...s.timings,
        finishedAt: finished.toISOString(),
        elapsedInMs: finished.getTime() - started.getTime(),
        chunkLatenciesInMs: results.map((r) => Math.round(r.latencyInMs)),
      },
    }));
    await clearWork(deps, chunkStore, blob.name);
    deps.logger.info(
      `Transcribed ${deps.audioContainer}/${blob.name}: ${plan.chunks.length} chunk(s), ${document.transcript.duration} s of audio, in ${finished.getTime() - started.getTime()} ms`,
    );
    return { state: "succeeded", status: status.current };
  } catch (thrown) {
    const superseded = supersededBy(thrown, status, lost.signal);
    if (superseded) {
      if (superseded.versionGone) {
        // The chunks of a version that no longer exists are of no use (another run of this one would resume from them).
        await clearWork(deps, chunkStore, blob.name);
        await finishGoneVersion(run).catch((e: unknown) => deps.logger.warn(`Could not record why ${blob.name} stopped: ${String(e)}`));
      }
      return skip(deps, blob, `stood down: ${superseded.message}`);
    }
    return await failRun(run, classifyError(thrown), versioned, chunkStore);
  } finally {
    stopHeartbeat();
  }
}

/**
 * Records a failure: final (the status says why, older outputs and kept chunks go) or for the host
 * to retry (rethrown).
 * @throws the failure when the host should deliver the blob again.
 */
async function failRun(
  run: ClaimedRun,
  error: AppError,
  versioned: VersionedWriteDeps,
  chunkStore: ChunkStore,
): Promise<TranscribeOutcome> {
  const { deps, blob, status } = run;
  const attempts = status.current.attempts;
  const final = failureActions(error).blob === "fail" || attempts >= run.maxAttempts;
  await recordFailure(deps, status, error, final, attempts, run.now, run.started);
  const line = `Transcription of ${deps.audioContainer}/${blob.name} failed (${error.kind}${error.code ? `/${error.code}` : ""}): ${error.message}`;
  if (final) {
    // The outputs of a version that no longer exists must not stand beside this version's failure.
    await removeStaleOutputs(versioned, run.transcripts, blob.name, run.etag, []).catch((e: unknown) =>
      deps.logger.warn(`Could not remove older outputs of ${blob.name}: ${String(e)}`),
    );
    await clearWork(deps, chunkStore, blob.name);
    deps.logger.error(line);
    return { state: "failed", status: status.current };
  }
  deps.logger.warn(`${line}; the host will retry (attempt ${attempts} of ${run.maxAttempts})`);
  throw error;
}

/**
 * Leaves a final status for a version that went away mid-run, if nobody wrote the record since: a
 * newer version's run takes the record over anyway, but a deletion (or a metadata change, which
 * the Event Grid source does not announce) would otherwise leave `running` for good.
 */
async function finishGoneVersion({ source, status, etag, now }: ClaimedRun): Promise<void> {
  const deleted = !(await source.exists());
  await status.finishIfStillMine((s) => ({
    ...s,
    state: "failed",
    claim: undefined,
    error: {
      kind: "transient",
      code: deleted ? "audio_deleted" : "audio_changed",
      message: deleted
        ? "The audio blob was deleted while it was being transcribed. Upload it again to transcribe it."
        : `The audio blob changed (new content or metadata) while version ${etag} was being transcribed; a new upload is transcribed on its own. If only its metadata changed, upload the file again to transcribe it.`,
      willRetry: false,
    },
    timings: { ...s.timings, finishedAt: now().toISOString() },
  }));
}

/** The reason the run lost its record, if that is why it stopped. */
function supersededBy(thrown: unknown, status: StatusReporter, lost: AbortSignal): SupersededError | undefined {
  if (thrown instanceof SupersededError) return thrown;
  if (lost.aborted && lost.reason instanceof SupersededError) return lost.reason;
  return status.superseded;
}

/** Removes the finished chunks once the file is done; a failure only leaves them behind. */
async function clearWork(deps: TranscribeBlobDeps, store: ChunkStore, name: string): Promise<void> {
  await store.clear().catch((error: unknown) => deps.logger.warn(`Could not remove the finished chunks of ${name}: ${String(error)}`));
}

function buildDocument(
  deps: TranscribeBlobDeps,
  blob: AudioBlob,
  plan: AudioPlan,
  options: TranscriptionOptions,
  results: readonly ChunkResult[],
  model: string,
): TranscriptDocument {
  return {
    transcript: stitchTranscripts(results, plan.durationInSeconds),
    options,
    usage: {
      audioSeconds: billedSeconds(results),
      requests: results.length,
      model,
      backends: chunkBackends(results),
    },
    source: {
      container: deps.audioContainer,
      name: blob.name,
      format: plan.format,
      bytes: blob.content.byteLength,
      chunks: plan.chunks.length,
    },
  };
}

async function writeOutputs(
  versioned: VersionedWriteDeps,
  transcripts: ContainerClient,
  name: string,
  document: TranscriptDocument,
  options: TranscriptionOptions,
  etag: string,
): Promise<TranscriptionStatus["outputs"]> {
  const outputs: TranscriptionStatus["outputs"] = {};
  await Promise.all(
    options.formats.map(async (format) => {
      const blobName = outputBlobName(name, format);
      await writeForVersion(
        versioned,
        transcripts.getBlockBlobClient(blobName),
        renderOutput(format, document),
        CONTENT_TYPES[format],
        etag,
      );
      outputs[format] = blobName;
    }),
  );
  // Stable key order, so the status lists outputs the same way every run.
  return Object.fromEntries(options.formats.map((f) => [f, outputs[f]]));
}

/** Removes outputs of other versions in the formats this version does not write (all of them when it failed). */
async function removeStaleOutputs(
  versioned: VersionedWriteDeps,
  transcripts: ContainerClient,
  name: string,
  etag: string,
  written: readonly string[],
): Promise<void> {
  const others = OUTPUT_FORMATS.filter((format) => !written.includes(format));
  await Promise.all(others.map((format) => removeIfStale(versioned, transcripts.getBlockBlobClient(outputBlobName(name, format)), etag)));
}

/** Done for this ETag: succeeded with every output present and made from this ETag, or failed for good. */
async function isComplete(transcripts: ContainerClient, status: TranscriptionStatus, etag: string): Promise<boolean> {
  if (status.state === "failed") return status.error?.willRetry === false;
  if (status.state !== "succeeded") return false;
  const names = Object.values(status.outputs).filter((n): n is string => typeof n === "string");
  const etags = await Promise.all(names.map((n) => readSourceEtag(transcripts.getBlockBlobClient(n))));
  return etags.every((e) => e === etag);
}

async function recordFailure(
  deps: TranscribeBlobDeps,
  status: StatusReporter,
  error: AppError,
  final: boolean,
  attempts: number,
  now: () => Date,
  started: Date,
): Promise<void> {
  const finished = now();
  // The record's own hint: `willRetry` and `attempts` say whether and how often the host retries, a
  // final failure after retries says how many were made, and the message stays as classified.
  const gaveUp = final && failureActions(error).blob === "retry";
  const message = gaveUp ? `Gave up after ${attempts} attempt(s): ${error.message}` : error.message;
  try {
    await status.update((s) => ({
      ...s,
      state: final ? "failed" : "queued",
      claim: undefined,
      error: {
        kind: error.kind,
        ...(error.code ? { code: error.code } : {}),
        message,
        willRetry: !final,
        ...(error.details !== undefined ? { details: error.details } : {}),
      },
      timings: { ...s.timings, finishedAt: finished.toISOString(), elapsedInMs: finished.getTime() - started.getTime() },
    }));
  } catch (writeError) {
    if (writeError instanceof SupersededError) return;
    // Storage itself is failing; the host's retry (and the thrown error) still carry the failure.
    deps.logger.warn(`Could not record the failure of ${status.current.name}: ${String(writeError)}`);
  }
}

/**
 * Subtitles from a model that gives no times need the pieces' times, known only for audio whose
 * length the app reads from its bytes (and cuts into pieces); refused before any request is paid.
 * @throws BadInputError `no_timings` naming the formats and the ways out.
 */
function checkCueTimes(plan: AudioPlan, options: TranscriptionOptions, kind: TranscriptionModelKind, model: string): void {
  const subtitles = options.formats.filter((format) => format === "srt" || format === "vtt");
  if (!needsTimedPieces(kind) || subtitles.length === 0) return;
  if (plan.chunks.every((chunk) => chunk.endInSeconds !== undefined)) return;
  throw new BadInputError(
    `${subtitles.join(" and ")} need cue times, which model "${model}" (${kind}) does not give, and the app cannot cut ${plan.format.toUpperCase()} audio into timed pieces. ` +
      `Use a Whisper or gpt-4o-transcribe-diarize model, set formats=json,txt, or convert the recording to WAV, MP3, FLAC, OGG, WebM or M4A.`,
    { code: "no_timings" },
  );
}

/** The models a blob may name: those serving transcription, the default first. */
function transcriptionModels(deps: TranscribeBlobDeps): string[] {
  const serving = modelsServing(deps.router.table, "transcription");
  return [deps.defaultModel, ...serving.filter((model) => model !== deps.defaultModel)];
}

function skip(deps: TranscribeBlobDeps, blob: AudioBlob, reason: string): TranscribeOutcome {
  deps.logger.info(`Skipping ${deps.audioContainer}/${blob.name}: ${reason}`);
  return { state: "skipped", reason };
}

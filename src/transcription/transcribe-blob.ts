/**
 * The transcription pipeline for one audio blob: skip what is already done, check the audio and
 * the options, plan chunks, transcribe them in parallel with bounded concurrency, stitch, write
 * every output whole, and keep the status record current throughout.
 *
 * Failure handling follows the error model's kinds:
 * - bad_input / upstream_permanent: status `failed` with the reason; returns normally, so the
 *   host does not retry something that cannot succeed.
 * - throttled / transient / configuration: status `queued` with the reason and `willRetry`, then
 *   rethrows so the host redelivers; on the last delivery the host allows (host.json
 *   `poisonBlobThreshold`) the status becomes `failed` instead, so a user always sees why.
 * The source blob is only ever read.
 */
import type { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import type { OpenAI } from "openai";
import { classifyError, type AppError } from "../errors.js";
import type { Logger } from "../logging.js";
import { detectAudioFormat } from "./audio-format.js";
import { isNotFound, readSourceEtag, stripQuotes, writeBlobWhole } from "./blob-io.js";
import { planChunks, type AudioPlan } from "./chunk-plan.js";
import { parseTranscriptionOptions, type TranscriptionOptions } from "./options.js";
import { mapLimited } from "./run-limited.js";
import { StatusReporter, outputBlobName, readStatus, type TranscriptionStatus } from "./status.js";
import { stitchTranscripts } from "./stitch.js";
import { DEFAULT_RETRY_POLICY, transcribeChunk, type ChunkResult, type RetryPolicy } from "./whisper.js";
import { CONTENT_TYPES, renderOutput, type TranscriptDocument } from "./writers.js";

/** Deliveries the host makes before giving up on a blob: host.json `extensions.blobs.poisonBlobThreshold`. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** How much of the previous chunk's text is offered as context to the next (Whisper reads ~224 tokens). */
const CONTINUITY_CHARS = 400;

export interface TranscribeBlobDeps {
  client: OpenAI;
  deployment: string;
  blobService: BlobServiceClient;
  audioContainer: string;
  transcriptsContainer: string;
  maxChunkBytes: number;
  maxConcurrency: number;
  logger: Logger;
  /** Defaults to DEFAULT_MAX_ATTEMPTS; keep in step with host.json. */
  maxAttempts?: number;
  retry?: Partial<RetryPolicy>;
  now?: () => Date;
}

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
 * @throws AppError of a retryable kind (throttled, transient, configuration) while deliveries
 *   remain, after recording it in the status, so the host retries the blob.
 */
export async function transcribeBlob(deps: TranscribeBlobDeps, blob: AudioBlob): Promise<TranscribeOutcome> {
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
  const etag = stripQuotes(blob.etag ?? properties.etag ?? "");
  if (blob.etag && properties.etag && stripQuotes(properties.etag) !== etag) {
    // The delivered bytes are an older version; the newer one has its own trigger and outputs.
    return skip(deps, blob, `the blob was overwritten (ETag ${etag} is now ${stripQuotes(properties.etag)}); the newer version is transcribed on its own`);
  }

  await transcripts.createIfNotExists();
  const previous = await readStatus(transcripts, blob.name);
  const sameVersion = previous?.source.etag === etag;
  if (sameVersion && previous && (await isComplete(transcripts, previous, etag))) {
    return skip(deps, blob, `outputs for ETag ${etag} already exist (state ${previous.state})`);
  }
  const attempts = sameVersion && previous ? previous.attempts + 1 : 1;
  const maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const status = new StatusReporter(
    transcripts,
    {
      name: blob.name,
      state: "running",
      source: { container: deps.audioContainer, name: blob.name, etag, bytes: blob.content.byteLength },
      progress: { chunksDone: 0, chunksTotal: 0 },
      attempts,
      timings: { uploadedAt: properties.lastModified?.toISOString(), startedAt: started.toISOString() },
      outputs: {},
      updatedAt: started.toISOString(),
    },
    now,
  );
  await status.update((s) => s);
  deps.logger.info(`Transcribing ${deps.audioContainer}/${blob.name} (${blob.content.byteLength} bytes, ETag ${etag}, attempt ${attempts} of ${maxAttempts})`);

  try {
    const options = parseTranscriptionOptions(properties.metadata ?? {});
    const format = detectAudioFormat(blob.content);
    const plan = planChunks(blob.content, format, { maxChunkBytes: deps.maxChunkBytes });
    await status.update((s) => ({
      ...s,
      options,
      source: { ...s.source, format, durationInSeconds: plan.durationInSeconds },
      progress: { chunksDone: 0, chunksTotal: plan.chunks.length },
    }));
    const results = await transcribeChunks(deps, blob.name, plan, options, status);
    const document = buildDocument(deps, blob, plan, options, results);
    const outputs = await writeOutputs(transcripts, blob.name, document, options, etag);
    const finished = now();
    await status.update((s) => ({
      ...s,
      state: "succeeded",
      error: undefined,
      usage: document.usage,
      outputs,
      timings: { ...s.timings, finishedAt: finished.toISOString(), elapsedInMs: finished.getTime() - started.getTime(), chunkLatenciesInMs: results.map((r) => Math.round(r.latencyInMs)) },
    }));
    deps.logger.info(`Transcribed ${deps.audioContainer}/${blob.name}: ${plan.chunks.length} chunk(s), ${document.transcript.duration} s of audio, in ${finished.getTime() - started.getTime()} ms`);
    return { state: "succeeded", status: status.current };
  } catch (thrown) {
    const error = classifyError(thrown);
    const final = !error.retryable && error.kind !== "configuration" ? true : attempts >= maxAttempts;
    await recordFailure(status, error, final, attempts, maxAttempts, now, started);
    const line = `Transcription of ${deps.audioContainer}/${blob.name} failed (${error.kind}${error.code ? `/${error.code}` : ""}): ${error.message}`;
    if (final) {
      deps.logger.error(line);
      return { state: "failed", status: status.current };
    }
    deps.logger.warn(`${line}; the host will retry (attempt ${attempts} of ${maxAttempts})`);
    throw error;
  }
}

async function transcribeChunks(
  deps: TranscribeBlobDeps,
  name: string,
  plan: AudioPlan,
  options: TranscriptionOptions,
  status: StatusReporter,
): Promise<ChunkResult[]> {
  const retry = { ...DEFAULT_RETRY_POLICY, ...deps.retry };
  const done: Array<ChunkResult | undefined> = [];
  const total = plan.chunks.length;
  let chunksDone = 0;
  return mapLimited(plan.chunks, deps.maxConcurrency, async (chunk, index, signal) => {
    // Continuity: when the previous chunk has already finished, its last words go into this
    // chunk's prompt, as Whisper's guide suggests for split audio. Chunks run in parallel, so
    // this helps only when concurrency is below the chunk count; the text never depends on it.
    const previousText = done[index - 1]?.text;
    const prompt = joinPrompt(options.prompt, previousText);
    const result = await transcribeChunk(
      { client: deps.client, deployment: deps.deployment, logger: deps.logger, retry },
      { chunk, chunkCount: total, format: plan.format, options, prompt, sourceName: name, signal },
    );
    done[index] = result;
    chunksDone++;
    deps.logger.info(
      `Chunk ${index + 1}/${total} of ${deps.audioContainer}/${name}: ${chunk.startInSeconds.toFixed(1)}-${(chunk.endInSeconds ?? chunk.startInSeconds + result.duration).toFixed(1)} s, ` +
        `${chunk.byteLength} bytes, ${result.segments.length} segments, ${Math.round(result.latencyInMs)} ms`,
    );
    await status.update((s) => ({ ...s, progress: { chunksDone, chunksTotal: total } }));
    return result;
  });
}

function joinPrompt(userPrompt: string | undefined, previousText: string | undefined): string | undefined {
  if (!previousText) return userPrompt;
  const tail = previousText.length > CONTINUITY_CHARS ? previousText.slice(previousText.indexOf(" ", previousText.length - CONTINUITY_CHARS) + 1) : previousText;
  // Whisper weighs the end of the prompt most: the user's vocabulary first, the context last.
  return userPrompt ? `${userPrompt} ${tail}` : tail;
}

function buildDocument(
  deps: TranscribeBlobDeps,
  blob: AudioBlob,
  plan: AudioPlan,
  options: TranscriptionOptions,
  results: readonly ChunkResult[],
): TranscriptDocument {
  return {
    transcript: stitchTranscripts(results, plan.durationInSeconds),
    options,
    usage: {
      audioSeconds: Math.round(results.reduce((sum, r) => sum + r.billedSeconds, 0) * 1000) / 1000,
      requests: results.length,
    },
    source: { container: deps.audioContainer, name: blob.name, format: plan.format, bytes: blob.content.byteLength, chunks: plan.chunks.length },
  };
}

async function writeOutputs(
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
      await writeBlobWhole(transcripts.getBlockBlobClient(blobName), renderOutput(format, document), CONTENT_TYPES[format], etag);
      outputs[format] = blobName;
    }),
  );
  // Stable key order, so the status lists outputs the same way every run.
  return Object.fromEntries(options.formats.map((f) => [f, outputs[f]]));
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
  status: StatusReporter,
  error: AppError,
  final: boolean,
  attempts: number,
  maxAttempts: number,
  now: () => Date,
  started: Date,
): Promise<void> {
  const finished = now();
  const message = final && error.retryable ? `Gave up after ${attempts} attempt(s): ${error.message}` : error.message;
  try {
    await status.update((s) => ({
      ...s,
      state: final ? "failed" : "queued",
      error: {
        kind: error.kind,
        ...(error.code ? { code: error.code } : {}),
        message: final || attempts >= maxAttempts ? message : `${message} (attempt ${attempts} of ${maxAttempts}; the host will retry)`,
        willRetry: !final,
        ...(error.details !== undefined ? { details: error.details } : {}),
      },
      timings: { ...s.timings, finishedAt: finished.toISOString(), elapsedInMs: finished.getTime() - started.getTime() },
    }));
  } catch {
    // Storage itself is failing; the host's retry (and the thrown error) still carry the failure.
  }
}

function skip(deps: TranscribeBlobDeps, blob: AudioBlob, reason: string): TranscribeOutcome {
  deps.logger.info(`Skipping ${deps.audioContainer}/${blob.name}: ${reason}`);
  return { state: "skipped", reason };
}

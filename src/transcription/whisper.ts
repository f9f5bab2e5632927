/**
 * One chunk to Whisper and back: each attempt goes through the router (src/routing/), which sends
 * it to a backend of the model and on to the next when one throttles or fails, so a file's chunks
 * spread over the model's backends. Around that, the retry policy (src/openai/retry-policy.ts) waits
 * out throttling (Azure's Retry-After, or when every backend is cooling down the soonest any is
 * back) and retries brief transient failures inside the invocation, so a busy model costs a little
 * time instead of one of the host's few deliveries of the whole file.
 */
import { toStreamingFile } from "openai";
import { classifyError } from "../errors.js";
import type { Logger } from "../logging.js";
import { logFailedOpenAICall, logOpenAICall, upstreamRequestId } from "../openai/call-log.js";
import type { RetryPolicy } from "../openai/retry-policy.js";
import { routedWithRetries } from "../queue-jobs/call-azure.js";
import type { Route, Router, Target } from "../routing/index.js";
import { MIME_TYPES, type AudioFormat } from "./audio-format.js";
import type { AudioChunk } from "./chunk-plan.js";
import type { TranscriptionOptions } from "./options.js";
import type { ChunkTranscript, WhisperSegment, WhisperWord } from "./stitch.js";

export interface WhisperDeps {
  router: Router;
  /** The model's transcription backends (router.route("transcription", model)). */
  route: Route;
  /** Who the chunks are transcribed for, in the metrics: `pipeline:transcription`, or the HTTP caller. */
  caller: string;
  logger: Logger;
  retry: RetryPolicy;
}

export interface ChunkRequest {
  chunk: AudioChunk;
  chunkCount: number;
  format: AudioFormat;
  options: TranscriptionOptions;
  /** The prompt to send: the user's, possibly followed by the end of the previous chunk's text. */
  prompt: string | undefined;
  /** Used in log lines only. */
  sourceName: string;
  signal: AbortSignal;
  /** Ask for word timestamps as well as segments (transcriptions only; translations have none). */
  words?: boolean;
}

export interface ChunkResult extends ChunkTranscript {
  /** Seconds Azure billed for this chunk (its `usage`, else its duration). */
  billedSeconds: number;
  latencyInMs: number;
  /** The backend that answered (its table name); absent on chunks kept by a version of the app before routing. */
  backend?: string;
}

/**
 * Transcribes (or translates) one chunk, on a backend of `deps.route` (src/queue-jobs/call-azure.ts
 * has the retry loop around the router; a throttle budget of 0, HTTP with a single chunk, waits
 * out no throttling: the caller retries itself).
 * @throws AppError classified by classifyError: `throttled` once the throttle budget is spent
 *   (a 429, or every backend cooling down), `transient` after the retries, anything else (400, 401/403/404, 413, cancelled) at once.
 */
export async function transcribeChunk(deps: WhisperDeps, request: ChunkRequest): Promise<ChunkResult> {
  const { chunk, options, signal } = request;
  const type = MIME_TYPES[request.format];
  const fileName = `audio-${chunk.index + 1}.${request.format}`;
  const operation = options.task === "translate" ? "audio.translations" : "audio.transcriptions";
  const where = `chunk ${chunk.index + 1}/${request.chunkCount} of ${request.sourceName}`;
  const { value } = await routedWithRetries(
    { router: deps.router, route: deps.route, caller: deps.caller },
    { where, signal },
    deps.retry,
    deps.logger,
    (target) => attemptChunk(target, request, operation, fileName, type),
  );
  return value;
}

/** One request for the chunk to one backend, logged on the backend's logger. @throws the client's error. */
async function attemptChunk(
  target: Target,
  request: ChunkRequest,
  operation: string,
  fileName: string,
  type: string,
): Promise<ChunkResult> {
  const { chunk, options, signal } = request;
  const deployment = target.backend.deployment;
  const started = performance.now();
  // Streamed from views of the blob: no copy of the audio is made for the upload. A stream can be
  // sent only once, so each attempt (another backend, a retry) gets a fresh one and the client's own retries are off.
  const file = toStreamingFile(viewsOf(chunk.parts), fileName, { type });
  try {
    const call =
      options.task === "translate"
        ? target.client.audio.translations.create(
            {
              model: deployment,
              file,
              response_format: "verbose_json",
              ...(request.prompt ? { prompt: request.prompt } : {}),
              ...temperature(options),
            },
            { signal },
          )
        : target.client.audio.transcriptions.create(
            {
              model: deployment,
              file,
              response_format: "verbose_json",
              timestamp_granularities: request.words ? ["segment", "word"] : ["segment"],
              ...(options.language ? { language: options.language } : {}),
              ...(request.prompt ? { prompt: request.prompt } : {}),
              ...temperature(options),
            },
            { signal },
          );
    const { data: raw, response } = await call.withResponse();
    // verbose_json: both operations answer with text, language, duration and segments.
    const data = raw as VerboseResult;
    const latencyInMs = performance.now() - started;
    logOpenAICall(target.logger, {
      operation,
      deployment,
      latencyInMs,
      status: response.status,
      audioSeconds: billedSecondsOf(data),
      requestId: upstreamRequestId(response.headers),
    });
    return {
      index: chunk.index,
      startInSeconds: chunk.startInSeconds,
      endInSeconds: chunk.endInSeconds,
      text: data.text,
      language: data.language,
      duration: data.duration,
      segments: data.segments ?? [],
      ...(data.words ? { words: data.words } : {}),
      billedSeconds: billedSecondsOf(data),
      latencyInMs,
      backend: target.backend.name,
    };
  } catch (error) {
    logFailedOpenAICall(target.logger, { operation, deployment, latencyInMs: performance.now() - started }, classifyError(error));
    throw error;
  }
}

/** Seconds Azure bills for a chunk: its `usage` when it reports one, else the audio's duration. */
function billedSecondsOf(data: VerboseResult): number {
  const usage = data.usage;
  return usage?.type === "duration" && typeof usage.seconds === "number" ? usage.seconds : data.duration;
}

/** Slice size handed to the HTTP stack: small enough for backpressure, large enough to be cheap. */
const UPLOAD_SLICE_BYTES = 256 * 1024;

async function* viewsOf(parts: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    for (let offset = 0; offset < part.byteLength; offset += UPLOAD_SLICE_BYTES) {
      yield part.subarray(offset, Math.min(part.byteLength, offset + UPLOAD_SLICE_BYTES));
    }
  }
}

interface VerboseResult {
  text: string;
  language: string;
  duration: number;
  segments?: WhisperSegment[];
  words?: WhisperWord[];
  usage?: { type?: string; seconds?: number };
}

function temperature(options: TranscriptionOptions): { temperature?: number } {
  return options.temperature === undefined ? {} : { temperature: options.temperature };
}

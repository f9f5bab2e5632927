/**
 * One chunk to Whisper and back: upload with the shared client, log the call, and wait out
 * throttling (honouring Retry-After) and brief transient failures inside the invocation, as the
 * retry policy says (src/openai/retry-policy.ts), so a busy deployment costs a little time instead
 * of one of the host's few deliveries of the whole file.
 */
import { toStreamingFile, type OpenAI } from "openai";
import { classifyError } from "../errors.js";
import type { Logger } from "../logging.js";
import { logFailedOpenAICall, logOpenAICall, upstreamRequestId } from "../openai/call-log.js";
import { transientRetryDelay, type RetryPolicy } from "../openai/retry-policy.js";
import { MIME_TYPES, type AudioFormat } from "./audio-format.js";
import type { AudioChunk } from "./chunk-plan.js";
import type { TranscriptionOptions } from "./options.js";
import { sleep } from "./run-limited.js";
import type { ChunkTranscript, WhisperSegment, WhisperWord } from "./stitch.js";

export interface WhisperDeps {
  client: OpenAI;
  deployment: string;
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
}

/**
 * Transcribes (or translates) one chunk.
 * @throws AppError classified by classifyError: `throttled` once the throttle budget is spent,
 *   `transient` after the retries, anything else (400, 401/403/404, 413, cancelled) at once.
 */
export async function transcribeChunk(deps: WhisperDeps, request: ChunkRequest): Promise<ChunkResult> {
  const { chunk, options, signal } = request;
  const type = MIME_TYPES[request.format];
  const fileName = `audio-${chunk.index + 1}.${request.format}`;
  const operation = options.task === "translate" ? "audio.translations" : "audio.transcriptions";
  // Wall-clock time since the first 429, so the budget counts the throttled requests themselves too.
  let firstThrottledAt: number | undefined;
  let transientFailures = 0;
  for (;;) {
    const started = performance.now();
    // Streamed from views of the blob: no copy of the audio is made for the upload. A stream can
    // be sent only once, so the client's own retries are off and this loop retries with a fresh one.
    const file = toStreamingFile(viewsOf(chunk.parts), fileName, { type });
    try {
      const call =
        options.task === "translate"
          ? deps.client.audio.translations.create(
              {
                model: deps.deployment,
                file,
                response_format: "verbose_json",
                ...(request.prompt ? { prompt: request.prompt } : {}),
                ...temperature(options),
              },
              { signal },
            )
          : deps.client.audio.transcriptions.create(
              {
                model: deps.deployment,
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
      logOpenAICall(deps.logger, {
        operation,
        deployment: deps.deployment,
        latencyInMs,
        status: response.status,
        requestId: upstreamRequestId(response.headers),
      });
      const usage = data.usage;
      return {
        index: chunk.index,
        startInSeconds: chunk.startInSeconds,
        endInSeconds: chunk.endInSeconds,
        text: data.text,
        language: data.language,
        duration: data.duration,
        segments: data.segments ?? [],
        ...(data.words ? { words: data.words } : {}),
        billedSeconds: usage?.type === "duration" && typeof usage.seconds === "number" ? usage.seconds : data.duration,
        latencyInMs,
      };
    } catch (thrown) {
      const error = classifyError(thrown);
      logFailedOpenAICall(deps.logger, { operation, deployment: deps.deployment, latencyInMs: performance.now() - started }, error);
      if (signal.aborted) throw error;
      const where = `chunk ${chunk.index + 1}/${request.chunkCount} of ${request.sourceName}`;
      if (error.kind === "throttled") {
        const wait = error.retryAfterInMs ?? 1000;
        firstThrottledAt ??= Date.now();
        // A budget of 0 means no waiting at all (HTTP with a single chunk: the caller retries itself).
        if (deps.retry.throttleBudgetInMs > 0 && Date.now() - firstThrottledAt + wait <= deps.retry.throttleBudgetInMs) {
          deps.logger.warn(`Throttled on ${where}; retrying in ${wait} ms as Retry-After asks`);
          await sleep(wait, signal);
          continue;
        }
      }
      const backoff = transientRetryDelay(deps.retry, error, transientFailures);
      if (backoff !== undefined) {
        transientFailures++;
        deps.logger.warn(
          `Transient failure on ${where} (${error.message}); retry ${transientFailures} of ${deps.retry.transientRetries} in ${backoff} ms`,
        );
        await sleep(backoff, signal);
        continue;
      }
      throw error;
    }
  }
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

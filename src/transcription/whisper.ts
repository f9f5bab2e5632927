/**
 * One chunk to Whisper and back: each attempt goes through the router (src/routing/), which sends
 * it to a backend of the model and on to the next when one throttles or fails, so a file's chunks
 * spread over the model's backends. Around that, the retry policy (src/openai/retry-policy.ts) waits
 * out throttling (Azure's Retry-After, or when every backend is cooling down the soonest any is
 * back) and retries brief transient failures inside the invocation, so a busy model costs a little
 * time instead of one of the host's few deliveries of the whole file.
 */
import { toStreamingFile } from "openai";
import type { TranscriptionCreateParamsNonStreaming } from "openai/resources/audio/transcriptions";
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
import type { TranscriptionModelKind } from "./transcription-models.js";

/**
 * Fields an HTTP caller set for the gpt-4o models, sent with every chunk as given (the blob
 * pipeline sets none): `chunking_strategy`, `include[]=logprobs`.
 */
export interface ModelExtras {
  chunkingStrategy?: "auto" | { type: "server_vad"; prefix_padding_ms?: number; silence_duration_ms?: number; threshold?: number };
  logprobs?: boolean;
}

/** A token's log-probability (gpt-4o models, include[]=logprobs). */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes?: number[];
}

/** Speakers the diarizing model should recognise: names with a 2-10 s reference clip each (data URLs). */
export interface KnownSpeakers {
  names: string[];
  references: string[];
}

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
  /** What the model behind the route is: decides what is asked for (transcription-models.ts). Default whisper. */
  kind?: TranscriptionModelKind;
  /** Diarizing model: the speakers found in earlier chunks (or the caller's), so labels stay the same across chunks. */
  knownSpeakers?: KnownSpeakers;
  extras?: ModelExtras;
}

export interface ChunkResult extends ChunkTranscript {
  /** Seconds Azure billed for this chunk (its `usage`, else its duration). */
  billedSeconds: number;
  latencyInMs: number;
  /** The backend that answered (its table name); absent on chunks kept by a version of the app before routing. */
  backend?: string;
  /** gpt-4o models with include[]=logprobs. */
  logprobs?: TokenLogprob[];
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
    const kind = request.kind ?? "whisper";
    const { data: raw, response } = await (
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
        : target.client.audio.transcriptions.create({ model: deployment, file, ...transcriptionFields(kind, request) }, { signal })
    ).withResponse();
    const latencyInMs = performance.now() - started;
    const transcript = chunkTranscriptOf(kind, request, raw as ModelResult);
    const { usage, logprobs } = raw as ModelResult;
    const billedSeconds = billedSecondsOf(usage, transcript.duration);
    logOpenAICall(target.logger, {
      operation,
      deployment,
      latencyInMs,
      status: response.status,
      audioSeconds: billedSeconds,
      ...tokensOf(usage),
      requestId: upstreamRequestId(response.headers),
    });
    return {
      ...transcript,
      ...(logprobs ? { logprobs } : {}),
      billedSeconds,
      latencyInMs,
      backend: target.backend.name,
    };
  } catch (error) {
    logFailedOpenAICall(target.logger, { operation, deployment, latencyInMs: performance.now() - started }, classifyError(error));
    throw error;
  }
}

/**
 * Seconds of audio a chunk counts for: Azure's `usage` when it reports seconds (Whisper, the
 * diarize model), else the audio's duration (the other gpt-4o models bill tokens).
 */
function billedSecondsOf(usage: ModelResult["usage"], duration: number): number {
  return usage?.type === "duration" && typeof usage.seconds === "number" ? usage.seconds : duration;
}

/**
 * The tokens a chunk was billed, for the models that bill tokens (gpt-4o-transcribe and
 * gpt-4o-mini-transcribe: `usage.type` "tokens", audio and prompt tokens in, text tokens out), so
 * the metrics count and price them like any other call's; none for the models that bill seconds.
 */
function tokensOf(usage: ModelResult["usage"]): { promptTokens?: number; completionTokens?: number } {
  if (usage?.type !== "tokens") return {};
  return {
    ...(typeof usage.input_tokens === "number" ? { promptTokens: usage.input_tokens } : {}),
    ...(typeof usage.output_tokens === "number" ? { completionTokens: usage.output_tokens } : {}),
  };
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

type TranscriptionFields = Omit<TranscriptionCreateParamsNonStreaming, "model" | "file">;

/** The answers the app asks for: verbose_json (Whisper), json (gpt-4o), diarized_json (gpt-4o diarize). */
interface ModelResult {
  text: string;
  language?: string;
  duration?: number;
  segments?: Array<WhisperSegment & { speaker?: string; type?: string; id?: unknown }>;
  words?: WhisperWord[];
  logprobs?: TokenLogprob[];
  /** Azure's usage: `{type: "duration", seconds}` (Whisper, the diarizing model) or `{type: "tokens", input_tokens, output_tokens, ...}`. */
  usage?: { type?: string; seconds?: number; input_tokens?: number; output_tokens?: number };
}

/**
 * The fields of a transcription request for the model's kind: Whisper gets verbose_json with
 * segment (and word) times; gpt-4o-transcribe and gpt-4o-mini-transcribe answer json only (the
 * chunk is short, its start and end time the text); the diarizing model gets diarized_json,
 * `chunking_strategy` (Azure requires it over 30 s; "auto" lets the service cut at pauses) and the
 * known speakers, and no prompt (it takes none).
 */
function transcriptionFields(kind: TranscriptionModelKind, request: ChunkRequest): TranscriptionFields {
  const { options } = request;
  const common = {
    ...(options.language ? { language: options.language } : {}),
    ...temperature(options),
  };
  if (kind === "whisper")
    return {
      ...common,
      response_format: "verbose_json" as const,
      timestamp_granularities: request.words ? ["segment", "word"] : ["segment"],
      ...(request.prompt ? { prompt: request.prompt } : {}),
    };
  if (kind === "gpt-4o-transcribe-diarize")
    return {
      ...common,
      response_format: "diarized_json" as const,
      chunking_strategy: request.extras?.chunkingStrategy ?? "auto",
      ...(request.knownSpeakers && request.knownSpeakers.names.length > 0
        ? { known_speaker_names: request.knownSpeakers.names, known_speaker_references: request.knownSpeakers.references }
        : {}),
    };
  return {
    ...common,
    response_format: "json" as const,
    ...(request.prompt ? { prompt: request.prompt } : {}),
    ...(request.extras?.chunkingStrategy ? { chunking_strategy: request.extras.chunkingStrategy } : {}),
    ...(request.extras?.logprobs ? { include: ["logprobs" as const] } : {}),
  };
}

/** The model's answer as one chunk's transcript, times relative to the chunk. */
function chunkTranscriptOf(kind: TranscriptionModelKind, request: ChunkRequest, data: ModelResult): ChunkTranscript {
  const { chunk, options } = request;
  const base = { index: chunk.index, startInSeconds: chunk.startInSeconds, endInSeconds: chunk.endInSeconds, text: data.text };
  if (kind === "whisper") {
    return {
      ...base,
      language: data.language ?? "",
      duration: data.duration ?? 0,
      segments: data.segments ?? [],
      ...(data.words ? { words: data.words } : {}),
    };
  }
  // The gpt-4o models do not say the language; the one the blob gave stands for it.
  const language = options.language ?? "";
  if (kind === "gpt-4o-transcribe-diarize") {
    return {
      ...base,
      language,
      duration: data.duration ?? 0,
      segments: (data.segments ?? []).map(({ start, end, text, speaker }) => ({ start, end, text, ...(speaker ? { speaker } : {}) })),
    };
  }
  // json: text only. The chunk's own span (known from its bytes) is the one time there is.
  const span = chunk.endInSeconds === undefined ? undefined : chunk.endInSeconds - chunk.startInSeconds;
  return {
    ...base,
    language,
    duration: span ?? 0,
    segments: span !== undefined && data.text.trim() !== "" ? [{ start: 0, end: span, text: data.text }] : [],
  };
}

function temperature(options: TranscriptionOptions): { temperature?: number } {
  return options.temperature === undefined ? {} : { temperature: options.temperature };
}

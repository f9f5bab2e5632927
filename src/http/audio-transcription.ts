/**
 * Serves one HTTP audio request with the blob pipeline's own path (src/transcription/): the
 * format is read from the bytes (audio-format.ts), a file over Azure's 25 MB limit is cut into
 * chunks (chunk-plan.ts), the chunks are transcribed in parallel with bounded concurrency, each
 * routed to a backend of the requested model (transcribe-chunks.ts, whisper.ts), stitched
 * (stitch.ts) and rendered in the requested format. Only the retry policy differs: see
 * httpAudioRetryPolicy (src/openai/retry-policy.ts).
 */
import { BadInputError } from "../errors.js";
import type { Logger } from "../logging.js";
import { httpAudioRetryPolicy } from "../openai/retry-policy.js";
import type { Config } from "../config.js";
import type { Router } from "../routing/index.js";
import { detectAudioFormat } from "../transcription/audio-format.js";
import { planChunks, type AudioPlan } from "../transcription/chunk-plan.js";
import { KNOWN_SPEAKERS_ALLOWANCE_BYTES } from "../transcription/speakers.js";
import { stitchTranscripts } from "../transcription/stitch.js";
import { MODEL_ABILITIES, maxChunkSecondsFor, type TranscriptionModelKind } from "../transcription/transcription-models.js";
import { billedSeconds, chunkBackends, transcribeChunks } from "../transcription/transcribe-chunks.js";
import { renderAudioAnswer, type AudioAnswer } from "./audio-answer.js";
import type { AudioRequest } from "./audio-request.js";

export interface AudioTranscriptionDeps {
  router: Router;
  logger: Logger;
  config: Config;
  /** Who uploads (src/http/caller.ts), for the metrics. */
  caller: string;
}

export interface AudioTranscriptionResult extends AudioAnswer {
  chunks: number;
  /** The backends (table names) that answered the chunks, in chunk order, each once. */
  backends: string[];
}

/**
 * Transcribes (or translates) the uploaded file and renders the answer.
 * @throws BadInputError for empty, corrupt, truncated, unsupported or unsplittable audio (the
 *   blob pipeline's codes, `param: "file"`), `model_not_found` for a model that does not
 *   transcribe (before the file is read); AppError from Azure (see whisper.ts and the policy);
 *   the signal's reason when the caller hangs up (every chunk request in flight is cancelled).
 */
export async function transcribeUpload(
  deps: AudioTranscriptionDeps,
  request: AudioRequest,
  signal: AbortSignal,
): Promise<AudioTranscriptionResult> {
  const route = deps.router.route("transcription", request.deployment);
  const { bytes, fileName } = request.file;
  const plan = await planUpload(bytes, deps.config.transcription.maxChunkBytes, request.kind);
  const started = performance.now();
  const sourceName = `upload ${JSON.stringify(fileName)}`;
  deps.logger.info(
    `${request.task === "translate" ? "Translating" : "Transcribing"} ${sourceName} (${bytes.byteLength} bytes, ${plan.format}, ${plan.chunks.length} chunk(s))`,
  );
  const results = await transcribeChunks(
    {
      router: deps.router,
      route,
      caller: deps.caller,
      logger: deps.logger,
      retry: httpAudioRetryPolicy(deps.config, plan.chunks.length),
      maxConcurrency: deps.config.transcription.maxConcurrency,
    },
    {
      plan,
      options: request.options,
      sourceName,
      signal,
      words: request.words && request.task === "transcribe",
      kind: request.kind,
      audio: bytes,
      extras: request.extras,
      ...(request.knownSpeakers ? { knownSpeakers: request.knownSpeakers } : {}),
    },
  );
  const transcript = stitchTranscripts(results, plan.durationInSeconds);
  deps.logger.info(
    `Transcribed ${sourceName}: ${plan.chunks.length} chunk(s), ${transcript.duration} s of audio, in ${Math.round(performance.now() - started)} ms`,
  );
  return {
    ...renderAudioAnswer(
      request,
      transcript,
      billedSeconds(results),
      results.flatMap((result) => result.logprobs ?? []),
    ),
    chunks: plan.chunks.length,
    backends: chunkBackends(results),
  };
}

/** The format and chunks of the file; its problems name the `file` field, as OpenAI's answers do. */
async function planUpload(bytes: Uint8Array, maxChunkBytes: number, kind: TranscriptionModelKind): Promise<AudioPlan> {
  try {
    // The diarizing model's later chunks carry reference clips too: leave room for them (transcribe-blob.ts does the same).
    const limit = MODEL_ABILITIES[kind].diarize
      ? Math.max(Math.floor(maxChunkBytes / 2), maxChunkBytes - KNOWN_SPEAKERS_ALLOWANCE_BYTES)
      : maxChunkBytes;
    const maxChunkSeconds = maxChunkSecondsFor(kind);
    return await planChunks(bytes, detectAudioFormat(bytes), {
      maxChunkBytes: limit,
      ...(maxChunkSeconds !== undefined ? { maxChunkSeconds } : {}),
    });
  } catch (error) {
    if (error instanceof BadInputError && error.param === undefined) {
      throw new BadInputError(error.message, { param: "file", ...(error.code ? { code: error.code } : {}), details: error.details });
    }
    throw error;
  }
}

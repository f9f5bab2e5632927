/**
 * Text to speech against Azure OpenAI through the shared client, the audio passed on as it
 * arrives: Azure streams speech (chunked) while it generates it, so the caller hears the start
 * long before the end, and nothing is held in memory whole. The call is logged when the audio
 * ends (characters spoken, bytes sent), when it breaks off, or when the caller leaves; a caller
 * who leaves cancels the upstream body (and with it Azure's generation).
 *
 * One attempt, as for chat (src/chat/chat-service.ts): HTTP callers retry themselves.
 */
import type { OpenAI } from "openai";
import type { SpeechCreateParams } from "openai/resources/audio/speech";
import { classifyError } from "../errors.js";
import type { Logger } from "../logging.js";
import { logFailedOpenAICall, logOpenAICall, upstreamRequestId } from "../openai/call-log.js";
import type { CallOutcome } from "../metrics/index.js";
import type { SpeechFormat, SpeechRequest } from "./speech-request.js";

/** OpenAI's content types per format, for an upstream answer that names none. */
const CONTENT_TYPES: Record<SpeechFormat, string> = {
  mp3: "audio/mpeg",
  opus: "audio/ogg",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
};

export interface SpeechAnswer {
  contentType: string;
  /** The audio (or, with `stream_format: "sse"`, its events) as Azure sends it. */
  body: ReadableStream<Uint8Array>;
}

/**
 * Starts the speech: resolves once Azure has accepted the request (so its refusals keep their
 * status codes) with the body to pass on.
 * @throws the client's error when Azure refuses or can't be reached; classify it with classifyError.
 */
export async function openSpeech(
  deps: { client: OpenAI; logger: Logger },
  request: SpeechRequest,
  signal: AbortSignal,
): Promise<SpeechAnswer> {
  const started = performance.now();
  const operation = "audio.speech";
  let response: Response;
  try {
    response = await deps.client.audio.speech
      .create({ ...request.body, model: request.deployment } as SpeechCreateParams, { signal })
      .asResponse();
  } catch (error) {
    logFailedOpenAICall(
      deps.logger,
      { operation, deployment: request.deployment, latencyInMs: performance.now() - started },
      classifyError(error),
    );
    throw error;
  }
  if (!response.body) throw new Error("Azure OpenAI's speech response had no body");
  const upstream = response.body.getReader();
  let bytes = 0;
  let logged = false;
  const log = (ending: string, outcome: CallOutcome = "ok") => {
    if (logged) return;
    logged = true;
    logOpenAICall(
      deps.logger,
      {
        operation: `${operation}${ending}`,
        deployment: request.deployment,
        latencyInMs: performance.now() - started,
        status: response.status,
        characters: request.characters,
        bytes,
        requestId: upstreamRequestId(response.headers),
      },
      outcome,
    );
  };
  const body = new ReadableStream<Uint8Array>({
    // One upstream read per pull: each piece leaves as soon as the caller's side can take it.
    async pull(controller) {
      try {
        const { done, value } = await upstream.read();
        if (done) {
          log("");
          controller.close();
          return;
        }
        bytes += value.byteLength;
        controller.enqueue(value);
      } catch (error) {
        if (signal.aborted) log(" (caller disconnected)", "cancelled");
        else log(" (broke off)", classifyError(error).kind);
        controller.error(error);
      }
    },
    async cancel() {
      log(" (caller disconnected)", "cancelled");
      await upstream.cancel().catch(() => undefined);
    },
  });
  return { contentType: response.headers.get("content-type") ?? CONTENT_TYPES[request.format], body };
}

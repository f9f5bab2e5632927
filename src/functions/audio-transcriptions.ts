import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { answerError } from "../http/error-response.js";
import { getRouter, modelsFor } from "../routing/index.js";
import { BACKEND_HEADER } from "../routing/http.js";
import type { TranscriptionTask } from "../transcription/options.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

/**
 * POST /api/v1/audio/transcriptions and /api/v1/audio/translations: OpenAI's audio API
 * (multipart upload, every response_format), served by the backends of the requested model (`model`:
 * a model of the routing table that transcribes; default AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT). A
 * file over Azure's 25 MB limit is split, transcribed in parallel and stitched by the blob
 * pipeline's code (src/http/audio-transcription.ts), each chunk routed on its own; the `x-backend`
 * header names the backend that answered, or the backends, comma-separated in chunk order, when
 * the chunks of a split file went to several. The upload is read as a stream up to HTTP_MAX_AUDIO_BYTES
 * (src/http/multipart-audio.ts says what is held in memory and why). Failures are answered in
 * OpenAI's error shape; a caller who hangs up cancels every chunk request in flight.
 */
function audioHandler(task: TranscriptionTask, label: string) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const { secrets, logger, callerGone, caller } = startHttpInvocation(context, request);
    try {
      const config = getProcessConfig();
      // Loaded on first use: busboy, zod and the transcription pipeline stay out of the cold start.
      const [{ readAudioUpload }, { parseAudioRequest }, { transcribeUpload }] = await Promise.all([
        import("../http/multipart-audio.js"),
        import("../http/audio-request.js"),
        import("../http/audio-transcription.js"),
      ]);
      const upload = await readAudioUpload(request, config.http.maxAudioBytes, callerGone);
      const audioRequest = parseAudioRequest(upload, task, modelsFor(config.openai, "transcription"));
      const answer = await transcribeUpload({ router: getRouter(config.openai), logger, config, caller }, audioRequest, callerGone);
      return {
        status: 200,
        headers: { "content-type": answer.contentType, "cache-control": "no-store", [BACKEND_HEADER]: answer.backends.join(", ") },
        body: answer.body,
      };
    } catch (error) {
      return answerError(error, label, logger, secrets);
    }
  };
}

export const audioTranscriptions = audioHandler("transcribe", "Audio transcription");
export const audioTranslations = audioHandler("translate", "Audio translation");

app.http("audio-transcriptions", {
  route: "v1/audio/transcriptions",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: audioTranscriptions,
});

app.http("audio-translations", {
  route: "v1/audio/translations",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: audioTranslations,
});

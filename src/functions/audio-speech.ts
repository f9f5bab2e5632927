import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { answerError } from "../http/error-response.js";
import { readJsonObject } from "../http/request-body.js";
import { tableOf, turnedOffAnswer } from "../http/turned-off.js";
import { modelsFor } from "../routing/models.js";

import { backendHeader } from "../routing/http.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

/**
 * POST /api/v1/audio/speech: OpenAI's text to speech, served by the speech deployment
 * (AZURE_OPENAI_SPEECH_DEPLOYMENT); the audio streams through to the caller as Azure produces it.
 * 404 model_not_found while speech is turned off.
 */
export async function audioSpeech(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // The answer may be a stream that keeps logging (usage, errors) after this handler has returned.
  const { secrets, logger, callerGone, caller, end } = startHttpInvocation(context, request, true);
  try {
    const config = getProcessConfig();
    // The body is read even when speech is off, so the connection is left clean for the next request.
    const json = await readJsonObject(request, config.http.maxRequestBytes);
    const deployment = config.openai.deployments.speech;
    if (!deployment)
      return turnedOffAnswer("Text to speech", "AZURE_OPENAI_SPEECH_DEPLOYMENT", stringOrUndefined(json.model), tableOf(config, "speech"));
    // Loaded on first use: validation pulls in zod, which would otherwise slow every cold start.
    const [{ parseSpeechRequest }, { openSpeech }] = await Promise.all([
      import("../speech/speech-request.js"),
      import("../speech/speech-call.js"),
    ]);
    const speechRequest = parseSpeechRequest(json, modelsFor(config.openai, "speech"));
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const route = router.route("speech", speechRequest.deployment);
    // The audio is passed on as it arrives: failing over is possible until Azure has accepted the request.
    const { value: answer, backend } = await router.run(route, { logger, signal: callerGone, caller }, (target) =>
      openSpeech({ client: target.client, logger: target.logger }, { ...speechRequest, deployment: target.backend.deployment }, callerGone),
    );
    return {
      status: 200,
      headers: { "content-type": answer.contentType, "cache-control": "no-store", ...backendHeader(backend) },
      body: answer.body,
    };
  } catch (error) {
    return answerError(error, "Speech", logger, secrets);
  } finally {
    end();
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

app.http("audio-speech", {
  route: "v1/audio/speech",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: audioSpeech,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { openChatStream, completeChat, type ChatDependencies } from "../chat/chat-service.js";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { readJsonObject } from "../http/request-body.js";
import { jsonResponse } from "../http/responses.js";
import { answerError } from "../http/error-response.js";
import { streamAnswer } from "../http/stream-response.js";
import { getOpenAIClient } from "../openai/client.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

/**
 * POST /api/v1/chat/completions: OpenAI's chat completions, streamed (SSE) or not, served by the
 * configured Azure OpenAI chat deployment. Every failure is answered in OpenAI's error shape.
 */
export async function chatCompletions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // The answer may be a stream that keeps logging (usage, errors) after this handler has returned.
  const { secrets, logger, callerGone, end } = startHttpInvocation(context, true);
  try {
    const config = getProcessConfig();
    // Loaded on first use: the validator pulls in zod, which would otherwise slow every cold start.
    const { parseChatRequest } = await import("../http/chat-request.js");
    const chatRequest = parseChatRequest(await readJsonObject(request, config.http.maxRequestBytes), [config.openai.deployments.chat]);
    // Upstream work stops when the caller hangs up, or when the runtime stops reading our stream.
    const stopReading = new AbortController();
    const signal = AbortSignal.any([callerGone, stopReading.signal]);
    const deps: ChatDependencies = {
      client: await getOpenAIClient(config.openai),
      logger,
      streamIdleTimeoutInMs: config.http.streamIdleTimeoutInMs,
    };
    if (!chatRequest.stream) return jsonResponse(200, await completeChat(deps, chatRequest, signal));
    return await streamAnswer(openChatStream(deps, chatRequest, signal), {
      label: "Chat completion",
      logger,
      secrets,
      onCancel: () => stopReading.abort(),
    });
  } catch (error) {
    return answerError(error, "Chat completion", logger, secrets);
  } finally {
    end();
  }
}

app.http("chat-completions", {
  route: "v1/chat/completions",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: chatCompletions,
});

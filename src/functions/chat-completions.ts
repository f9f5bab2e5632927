import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { openChatStream, completeChat, type ChatDependencies } from "../chat/chat-service.js";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { readJsonObject } from "../http/request-body.js";
import { jsonResponse } from "../http/responses.js";
import { answerError } from "../http/error-response.js";
import { streamAnswer } from "../http/stream-response.js";
import type { ChatRequest } from "../http/chat-request.js";
import { modelsFor } from "../routing/models.js";
import type { Backend, Target } from "../routing/index.js";
import { openedAtFirstEvent } from "../routing/first-event.js";
import { backendHeader } from "../routing/http.js";
import { chatTokenEstimate } from "../caller-limits/request-estimates.js";
import { chargeRequestCaller } from "../http/caller-charge.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

/**
 * POST /api/v1/chat/completions: OpenAI's chat completions, streamed (SSE) or not, served by the
 * configured Azure OpenAI chat deployment. Every failure is answered in OpenAI's error shape.
 */
export async function chatCompletions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // The answer may be a stream that keeps logging (usage, errors) after this handler has returned.
  const { secrets, logger, callerGone, caller, end } = startHttpInvocation(context, request, true);
  try {
    const config = getProcessConfig();
    // Loaded on first use: the validator pulls in zod, which would otherwise slow every cold start.
    const { parseChatRequest } = await import("../http/chat-request.js");
    const chatRequest = parseChatRequest(await readJsonObject(request, config.http.maxRequestBytes), modelsFor(config.openai, "chat"));
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const route = router.route("chat", chatRequest.deployment);
    const charge = await chargeRequestCaller(caller, route, config, () => chatTokenEstimate(chatRequest.body), logger);
    // Upstream work stops when the caller hangs up, or when the runtime stops reading our stream.
    const stopReading = new AbortController();
    const signal = AbortSignal.any([callerGone, stopReading.signal]);
    // The estimate only matters when there is a choice of backend.
    const run =
      route.backends.length > 1 ? { logger, signal, caller, estimate: chatTokenEstimate(chatRequest.body) } : { logger, signal, caller };
    const on = (target: Target): [ChatDependencies, ChatRequest] => [
      {
        client: target.client,
        logger: target.logger,
        streamIdleTimeoutInMs: config.http.streamIdleTimeoutInMs,
        onUsage: charge.onUsage,
      },
      { ...chatRequest, deployment: target.backend.deployment },
    ];
    if (!chatRequest.stream) {
      const answered = await router.run(route, run, (target) => completeChat(...on(target), signal)).finally(() => charge.settle());
      return jsonResponse(200, answered.value, { ...backendHeader(answered.backend), ...charge.headers() });
    }
    // Failing over is possible until the first event: nothing has reached the caller before it.
    let backend: Backend | undefined;
    const opening = router.run(route, run, (target) =>
      openedAtFirstEvent(openChatStream(...on(target), signal), config.openai.timeoutInMs),
    );
    return await streamAnswer(
      opening.then(
        (routed) => ((backend = routed.backend), charge.settledWhenDone(routed.value)),
        (error: unknown) => charge.settle().then(() => Promise.reject(error as Error)),
      ),
      {
        label: "Chat completion",
        logger,
        secrets,
        onCancel: () => stopReading.abort(),
        answerHeaders: () => ({ ...(backend ? backendHeader(backend) : {}), ...charge.headers() }),
      },
    );
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

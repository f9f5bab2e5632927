import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { answerError } from "../http/error-response.js";
import { readJsonObject } from "../http/request-body.js";
import { jsonResponse } from "../http/responses.js";
import { streamAnswer } from "../http/stream-response.js";
import { tableOf, turnedOffAnswer } from "../http/turned-off.js";
import type { CompletionsRequest } from "../completions/completions-request.js";
import type { CompletionsDependencies } from "../completions/completions-service.js";
import { modelsFor } from "../routing/models.js";
import type { Backend, Target } from "../routing/index.js";
import { openedAtFirstEvent } from "../routing/first-event.js";
import { backendHeader } from "../routing/http.js";
import { completionsTokenEstimate } from "../caller-limits/request-estimates.js";
import { chargeRequestCaller } from "../http/caller-charge.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

/**
 * POST /api/v1/completions: OpenAI's legacy completions, streamed (SSE) or not, served by
 * AZURE_OPENAI_COMPLETIONS_DEPLOYMENT (e.g. gpt-35-turbo-instruct); 404 model_not_found while unset.
 */
export async function completions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // The answer may be a stream that keeps logging (usage, errors) after this handler has returned.
  const { secrets, logger, callerGone, caller, end } = startHttpInvocation(context, request, true);
  try {
    const config = getProcessConfig();
    const json = await readJsonObject(request, config.http.maxRequestBytes);
    const deployment = config.openai.deployments.completions;
    if (!deployment)
      return turnedOffAnswer(
        "Legacy completions",
        "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT",
        typeof json.model === "string" ? json.model : undefined,
        tableOf(config, "completions"),
      );
    // Loaded on first use: validation pulls in zod, which would otherwise slow every cold start.
    const [{ parseCompletionsRequest }, service] = await Promise.all([
      import("../completions/completions-request.js"),
      import("../completions/completions-service.js"),
    ]);
    const completionsRequest = parseCompletionsRequest(json, modelsFor(config.openai, "completions"));
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const route = router.route("completions", completionsRequest.deployment);
    const charge = await chargeRequestCaller(caller, route, config, () => completionsTokenEstimate(completionsRequest.body), logger);
    // Upstream work stops when the caller hangs up, or when the runtime stops reading our stream.
    const stopReading = new AbortController();
    const signal = AbortSignal.any([callerGone, stopReading.signal]);
    const run = { logger, signal, caller };
    const on = (target: Target): [CompletionsDependencies, CompletionsRequest] => [
      {
        client: target.client,
        logger: target.logger,
        streamIdleTimeoutInMs: config.http.streamIdleTimeoutInMs,
        onUsage: charge.onUsage,
      },
      { ...completionsRequest, deployment: target.backend.deployment },
    ];
    if (!completionsRequest.stream) {
      const answered = await router.run(route, run, (target) => service.complete(...on(target), signal)).finally(() => charge.settle());
      return jsonResponse(200, answered.value, { ...backendHeader(answered.backend), ...charge.headers() });
    }
    // Failing over is possible until the first event: nothing has reached the caller before it.
    let backend: Backend | undefined;
    const opening = router.run(route, run, (target) =>
      openedAtFirstEvent(service.openCompletionsStream(...on(target), signal), config.openai.timeoutInMs),
    );
    return await streamAnswer(
      opening.then(
        (routed) => ((backend = routed.backend), charge.settledWhenDone(routed.value)),
        (error: unknown) => charge.settle().then(() => Promise.reject(error as Error)),
      ),
      {
        label: "Completion",
        logger,
        secrets,
        onCancel: () => stopReading.abort(),
        answerHeaders: () => ({ ...(backend ? backendHeader(backend) : {}), ...charge.headers() }),
      },
    );
  } catch (error) {
    return answerError(error, "Completion", logger, secrets);
  } finally {
    end();
  }
}

app.http("completions", {
  route: "v1/completions",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: completions,
});

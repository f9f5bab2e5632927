import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { readJsonObject } from "../http/request-body.js";
import { jsonResponse } from "../http/responses.js";
import { answerError } from "../http/error-response.js";
import { backendHeader } from "../routing/http.js";
import { embeddingsTokenEstimate } from "../caller-limits/request-estimates.js";
import { chargeRequestCaller } from "../http/caller-charge.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

/** POST /api/v1/embeddings: OpenAI's embeddings API, served synchronously by the embeddings deployment. */
export async function embeddingsHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const { secrets, logger, callerGone, caller } = startHttpInvocation(context, request);
  try {
    const config = getProcessConfig();
    // Loaded on first use: validation pulls in zod and the tokenizer's tables (megabytes), which
    // would otherwise be parsed on every cold start, even by instances that never embed.
    const [{ parseEmbeddingsRequest }, { createEmbeddings }] = await Promise.all([
      import("../http/embeddings-request.js"),
      import("../http/embeddings-call.js"),
    ]);
    const embeddingsRequest = parseEmbeddingsRequest(await readJsonObject(request, config.http.maxRequestBytes), config);
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const route = router.route("embeddings", embeddingsRequest.deployment);
    const charge = await chargeRequestCaller(caller, route, config, () => embeddingsTokenEstimate(embeddingsRequest.input), logger);
    const answered = await router
      .run(route, { logger, signal: callerGone, caller }, (target) =>
        createEmbeddings(
          { client: target.client, logger: target.logger, onUsage: charge.onUsage },
          { ...embeddingsRequest, deployment: target.backend.deployment },
          callerGone,
        ),
      )
      .finally(() => charge.settle());
    return jsonResponse(200, answered.value, { ...backendHeader(answered.backend), ...charge.headers() });
  } catch (error) {
    return answerError(error, "Embeddings", logger, secrets);
  }
}

app.http("embeddings-http", {
  route: "v1/embeddings",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: embeddingsHttp,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { errorResponse } from "../http/error-response.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";
import { knownSecrets } from "../http/known-secrets.js";
import { usageSnapshot } from "../metrics/index.js";

/**
 * GET /api/usage: this instance's totals since it started, by caller and model (requests, tokens by
 * type, estimated cost in the AI_PRICES currency, audio minutes, images), with pipeline items and
 * throttled requests. Per instance: with several instances, each answers for itself; the metrics in
 * Application Insights are the sum (docs/metrics.md). No upstream call.
 */
export async function usage(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return jsonResponse(200, usageSnapshot());
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context, knownSecrets()).error(`Reading the usage totals failed (${response.status})`, error);
    return response;
  }
}

app.http("usage", {
  route: "usage",
  methods: ["GET"],
  authLevel: getProcessConfig().http.authLevel,
  handler: usage,
});

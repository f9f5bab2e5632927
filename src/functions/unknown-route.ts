import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { describeError } from "../http/error-response.js";
import { unknownRouteError } from "../http/api-routes.js";
import { jsonResponse } from "../http/responses.js";

/**
 * Any request under /api/v1 that no other function takes (route precedence puts a catch-all
 * last): a path no route serves gets 404, a known route called with the wrong method 405 with
 * `allow`, both in OpenAI's error shape, so clients raise their usual NotFoundError instead of
 * failing to parse the host's plain-text "Not Found". No upstream call.
 */
export async function unknownRoute(request: HttpRequest): Promise<HttpResponseInit> {
  const { status, allow, error } = unknownRouteError(request.method, request.params.path ?? "");
  return jsonResponse(status, describeError(error).body, allow ? { allow } : {});
}

app.http("unknown-route", {
  route: "v1/{*path}",
  methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
  // Anonymous: it reveals only the list of routes, which the docs publish anyway, and a caller
  // without a key learns the URL is wrong rather than that a key is missing.
  authLevel: "anonymous",
  handler: unknownRoute,
});

import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { staticAsset } from "../console-api/static-assets.js";

/**
 * GET /api/console/{path}: the web console's page and its built files (docs/console.md). Thin: the
 * files and their headers come from src/console-api/static-assets.ts.
 */
export async function consoleAssets(request: HttpRequest): Promise<HttpResponseInit> {
  const answer = await staticAsset(request.params.path ?? "", request.headers.get("accept-encoding") ?? "");
  return { status: answer.status, headers: answer.headers, body: answer.body };
}

app.http("console", {
  route: "console/{*path}",
  methods: ["GET"],
  // Anonymous: the page and its script hold no secret; every call they make carries the key the user types.
  authLevel: "anonymous",
  handler: consoleAssets,
});

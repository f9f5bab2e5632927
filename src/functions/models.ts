import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { errorResponse } from "../http/error-response.js";
import { listModels } from "../http/models-list.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";

/** GET /api/v1/models: the deployments this app serves, in OpenAI's list shape (no upstream call). */
export async function models(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return jsonResponse(200, listModels(getProcessConfig().openai.deployments));
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context).error(`Listing models failed (${response.status})`, error);
    return response;
  }
}

app.http("models", {
  route: "v1/models",
  methods: ["GET"],
  authLevel: getProcessConfig().http.authLevel,
  handler: models,
});

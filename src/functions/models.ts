import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { errorResponse } from "../http/error-response.js";
import { findModel, listModels } from "../http/models-list.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";

/**
 * GET /api/v1/models: the models this app serves (the routing table's model names), in OpenAI's list shape; GET /api/v1/models/{model}:
 * one of them (the `openai` client's `models.retrieve`). No upstream call.
 */
export async function models(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const table = getProcessConfig().openai.routing.table;
    const id = request.params.model;
    if (!id) return jsonResponse(200, listModels(table));
    const found = findModel(table, id);
    return jsonResponse(found.status, found.body);
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context).error(`Listing models failed (${response.status})`, error);
    return response;
  }
}

app.http("models", {
  route: "v1/models/{model?}",
  methods: ["GET"],
  authLevel: getProcessConfig().http.authLevel,
  handler: models,
});

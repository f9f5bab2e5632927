import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { checkBlobName, outputContainer } from "../console-api/names.js";
import { errorResponse } from "../http/error-response.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";
import { knownSecrets } from "../http/known-secrets.js";
import { getStorageClients } from "../storage/clients.js";

/**
 * GET /api/jobs/blobs/{kind}/{name}: one output the app wrote (a transcript, a status record, an
 * embeddings result or error record, speech audio, an image), read with the app's own identity, for
 * callers that hold a function key but no storage rights. `kind` is transcripts, embeddings, speech
 * or images; nothing else is reachable (docs/console.md).
 */
export async function consoleReadOutput(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = getProcessConfig();
    const container = outputContainer(config, request.params.kind ?? "");
    const name = checkBlobName(request.params.name, container);
    const { readOutput } = await import("../console-api/read-output.js");
    const { blobService } = await getStorageClients(config.storage, config.openai.managedIdentityAvailable);
    const answer = await readOutput(blobService, container, name);
    if (!answer.found) return jsonResponse(404, { error: { type: "invalid_request_error", code: "not_found", message: answer.message } });
    return { status: 200, headers: answer.headers, body: answer.body };
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context, knownSecrets()).error(`Reading an output failed (${response.status})`, error);
    return response;
  }
}

app.http("consoleReadOutput", {
  route: "jobs/blobs/{kind}/{*name}",
  methods: ["GET"],
  authLevel: getProcessConfig().http.authLevel,
  handler: consoleReadOutput,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { errorResponse } from "../http/error-response.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";
import { getStorageClients } from "../storage/clients.js";

/**
 * GET /api/transcriptions/{name}: the status record of audio/{name} (state, progress, error,
 * timings, usage) with links to the outputs; `queued` for an uploaded blob not yet picked up; 404
 * when there is neither blob nor record. `name` may contain slashes (virtual folders).
 */
export async function getTranscription(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = getProcessConfig();
    const { getTranscriptionStatus } = await import("../transcription/status-query.js");
    const answer = await getTranscriptionStatus(
      {
        blobService: (await getStorageClients(config.storage, config.openai.managedIdentityAvailable)).blobService,
        audioContainer: config.audio.container,
        transcriptsContainer: config.audio.transcriptsContainer,
      },
      request.params.name ?? "",
    );
    if (!answer.found) return jsonResponse(404, { error: { code: "not_found", message: answer.message } });
    return jsonResponse(200, answer.status);
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context).error(`Reading a transcription status failed (${response.status})`, error);
    return response;
  }
}

app.http("getTranscription", {
  route: "transcriptions/{*name}",
  methods: ["GET"],
  authLevel: getProcessConfig().http.authLevel,
  handler: getTranscription,
});

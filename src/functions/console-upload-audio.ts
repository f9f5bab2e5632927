import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { checkBlobName } from "../console-api/names.js";
import { errorResponse } from "../http/error-response.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";
import { knownSecrets } from "../http/known-secrets.js";
import { getStorageClients } from "../storage/clients.js";

/**
 * POST /api/jobs/audio/{name}?language=&prompt=&temperature=&task=&formats=&model=: the request
 * body (the audio file's bytes) becomes the blob audio/{name} with the options as metadata, which
 * starts a transcription job (docs/console.md). 201 with the job's status URL.
 */
export async function consoleUploadAudio(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = getProcessConfig();
    const name = checkBlobName(request.params.name, config.audio.container);
    const { uploadAudio } = await import("../console-api/upload-audio.js");
    const declared = request.headers.get("content-length");
    const written = await uploadAudio(
      {
        blobService: (await getStorageClients(config.storage, config.openai.managedIdentityAvailable)).blobService,
        container: config.audio.container,
        maxBytes: config.http.maxAudioBytes,
      },
      {
        name,
        body: request.body,
        declaredBytes: declared === null ? undefined : Number(declared),
        contentType: request.headers.get("content-type") ?? undefined,
        options: request.query,
      },
    );
    const path = name.split("/").map(encodeURIComponent).join("/");
    return jsonResponse(201, { name, container: config.audio.container, ...written, status: `/api/transcriptions/${path}` });
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context, knownSecrets()).error(`Uploading audio failed (${response.status})`, error);
    return response;
  }
}

app.http("consoleUploadAudio", {
  route: "jobs/audio/{*name}",
  methods: ["POST", "PUT"],
  authLevel: getProcessConfig().http.authLevel,
  handler: consoleUploadAudio,
});

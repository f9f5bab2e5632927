import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { BadInputError } from "../errors.js";
import { errorResponse } from "../http/error-response.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";
import { knownSecrets } from "../http/known-secrets.js";
import { getStorageClients } from "../storage/clients.js";

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

/**
 * GET /api/jobs/transcriptions?limit=20: the newest transcription jobs (audio blobs with their status
 * records), newest first, with links to their outputs through GET /api/jobs/blobs/transcripts/...
 * `has_more` is true when the audio container holds more files than one listing looks at (5,000,
 * by name): newer jobs may then be missing, and `listed` says how many were looked at.
 */
export async function consoleListTranscriptions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = getProcessConfig();
    const limit = parseLimit(request.query.get("limit"));
    const { listRecentJobs } = await import("../console-api/list-jobs.js");
    const { jobs, hasMore, listed } = await listRecentJobs(
      {
        blobService: (await getStorageClients(config.storage, config.openai.managedIdentityAvailable)).blobService,
        audioContainer: config.audio.container,
        transcriptsContainer: config.audio.transcriptsContainer,
      },
      limit,
    );
    return jsonResponse(200, { object: "list", data: jobs, has_more: hasMore, listed });
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context, knownSecrets()).error(`Listing transcription jobs failed (${response.status})`, error);
    return response;
  }
}

/** @throws BadInputError for a limit that is not a whole number from 1 to MAX_LIMIT. */
function parseLimit(raw: string | null): number {
  if (raw === null || raw === "") return DEFAULT_LIMIT;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new BadInputError(`limit must be a whole number from 1 to ${MAX_LIMIT} (got "${raw}")`, { param: "limit" });
  }
  return limit;
}

app.http("consoleListTranscriptions", {
  route: "jobs/transcriptions",
  methods: ["GET"],
  authLevel: getProcessConfig().http.authLevel,
  handler: consoleListTranscriptions,
});

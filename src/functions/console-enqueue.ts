import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { queueName } from "../console-api/names.js";
import { errorResponse } from "../http/error-response.js";
import { readJsonObject } from "../http/request-body.js";
import { jsonResponse } from "../http/responses.js";
import { createSafeLogger } from "../logging.js";
import { knownSecrets } from "../http/known-secrets.js";
import { getStorageClients } from "../storage/clients.js";

/**
 * POST /api/jobs/queues/{queue}: puts the JSON body on the embeddings, speech or images queue,
 * encoded as host.json says (base64), as `npm run send -- enqueue` does. 202 with the id the job's
 * outputs are named after and the URLs of its result and error record (docs/console.md). The
 * message is checked by the queue function itself, which writes `{id}.error.json` when it is bad:
 * that is what the console shows.
 */
export async function consoleEnqueue(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = getProcessConfig();
    const kind = request.params.queue ?? "";
    const queue = queueName(config, kind);
    const { enqueueJob, MAX_MESSAGE_BYTES } = await import("../console-api/enqueue.js");
    const message = await readJsonObject(request, MAX_MESSAGE_BYTES);
    const { queueService } = await getStorageClients(config.storage, config.openai.managedIdentityAvailable);
    const sent = await enqueueJob(queueService, queue, message);
    const path = sent.id.split("/").map(encodeURIComponent).join("/");
    return jsonResponse(202, {
      queue,
      messageId: sent.messageId,
      id: sent.id,
      result: `/api/jobs/blobs/${kind}/${path}.json`,
      error: `/api/jobs/blobs/${kind}/${path}.error.json`,
    });
  } catch (error) {
    const response = errorResponse(error);
    createSafeLogger(context, knownSecrets()).error(`Enqueueing a message failed (${response.status})`, error);
    return response;
  }
}

app.http("consoleEnqueue", {
  route: "jobs/queues/{queue}",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: consoleEnqueue,
});

import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { ConfigurationError } from "../errors.js";
import { checkHealth } from "../health.js";
import { knownSecrets } from "../http/known-secrets.js";
import { getOpenAIClient } from "../openai/client.js";
import { redactSecrets } from "../logging.js";
import { getStorageClients } from "../storage/clients.js";

const NO_STORE = { "cache-control": "no-store" };

/** GET /api/health: 200 when configuration, storage and Azure OpenAI are all usable, else 503 with reasons. */
export async function health(_request: HttpRequest): Promise<HttpResponseInit> {
  let config;
  try {
    config = getProcessConfig();
  } catch (error) {
    const reason = error instanceof ConfigurationError ? error.message : String(error);
    return { status: 503, jsonBody: { status: "unavailable", checks: { configuration: { ok: false, reason } } }, headers: NO_STORE };
  }
  let clients;
  try {
    clients = {
      storage: await getStorageClients(config.storage, config.openai.managedIdentityAvailable),
      openai: await getOpenAIClient(config.openai),
    };
  } catch (error) {
    // Creating the clients fails only on settings the validation could not judge (e.g. a connection string's parts).
    const reason = redactSecrets(
      `Could not create the storage or Azure OpenAI client: ${error instanceof Error ? error.message : String(error)}`,
      knownSecrets(),
    );
    return { status: 503, jsonBody: { status: "unavailable", checks: { configuration: { ok: false, reason } } }, headers: NO_STORE };
  }
  const report = await checkHealth({ ...clients, containerName: config.audio.transcriptsContainer, knownSecrets: knownSecrets() });
  return { status: report.status === "ok" ? 200 : 503, jsonBody: report, headers: NO_STORE };
}

// Anonymous: load balancers and `npm start` probe it without keys, and it reveals no secrets.
app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: health });

import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { ConfigurationError } from "../errors.js";
import { checkHealth } from "../health.js";
import { getOpenAIClient } from "../openai/client.js";
import { getStorageClients } from "../storage/clients.js";

/** GET /api/health: 200 when configuration, storage and Azure OpenAI are all usable, else 503 with reasons. */
export async function health(_request: HttpRequest): Promise<HttpResponseInit> {
  let config;
  try {
    config = getProcessConfig();
  } catch (error) {
    const reason = error instanceof ConfigurationError ? error.message : String(error);
    return { status: 503, jsonBody: { status: "unavailable", checks: { configuration: { ok: false, reason } } } };
  }
  const report = await checkHealth({
    storage: await getStorageClients(config.storage, config.openai.managedIdentityAvailable),
    openai: await getOpenAIClient(config.openai),
    containerName: config.audio.transcriptsContainer,
  });
  return { status: report.status === "ok" ? 200 : 503, jsonBody: report, headers: { "cache-control": "no-store" } };
}

// Anonymous: load balancers and `npm start` probe it without keys, and it reveals no secrets.
app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: health });

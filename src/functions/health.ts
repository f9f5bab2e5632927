import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { checkHealth } from "../health.js";
import { knownSecrets } from "../http/known-secrets.js";
import type { OpenAIConfig } from "../config.js";
import { resourcesOf } from "../routing/table.js";
import { redactSecrets } from "../logging.js";
import { getStorageClients } from "../storage/clients.js";

const NO_STORE = { "cache-control": "no-store" };

/**
 * GET /api/health: 200 when storage and Azure OpenAI are both usable, else 503 with reasons.
 *
 * Settings are not checked here: src/setup.ts validates them when the app loads and throws, so an
 * app with bad settings registers no function at all and the host logs the list of problems.
 * That is the behaviour kept on purpose: with the functions registered, every queue message and
 * blob would spend its deliveries on the bad settings and end poisoned or failed; without them,
 * the work waits untouched until the settings are fixed. Only what validation cannot judge (a
 * client that cannot be built from them) is reported as the `configuration` check.
 */
export async function health(_request: HttpRequest): Promise<HttpResponseInit> {
  const config = getProcessConfig();
  let clients;
  try {
    clients = {
      storage: await getStorageClients(config.storage, config.openai.managedIdentityAvailable),
      openai: await resourceClients(config.openai),
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

/** A client for each Azure OpenAI resource of the routing table (through one of its backends, with that backend's credential). */
async function resourceClients(openai: OpenAIConfig): Promise<{ name: string; client: import("openai").OpenAI }[]> {
  const router = (await import("../routing/index.js")).getRouter(openai);
  return Promise.all(
    resourcesOf(openai.routing.table).map(async (backend) => ({
      name: new URL(backend.endpoint).host,
      client: await router.clientOf(backend),
    })),
  );
}

// Anonymous: load balancers and `npm start` probe it without keys, and it reveals no secrets.
app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: health });

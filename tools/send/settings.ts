/**
 * Where `npm run send` sends: the settings as `npm start` sees them (local.settings.json, or its
 * sample, with the shell winning), storage clients for AzureWebJobsStorage (Azurite by default),
 * host.json's queue message encoding, and the Functions host's URL. Read-only: it never writes
 * local.settings.json, so the CLI can run beside (or without) a running app.
 */
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { loadHostConfig } from "../local-host/host-config.js";
import { effectiveSettings, loadLocalSettings, sampleSettingNames } from "../local-host/local-settings.js";

export interface SendContext {
  settings: Record<string, string>;
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
  /** host.json extensions.queues.messageEncoding of the app in `root`. */
  messageEncoding: "base64" | "none";
  functionsUrl: string;
}

/**
 * Settings the way `npm start` sees them (local.settings.json Values, the shell wins), and
 * storage clients for AzureWebJobsStorage (default: Azurite on its usual ports).
 * @throws Error when local.settings.json is invalid or storage uses the identity form.
 */
export function sendContext(root: string, env: NodeJS.ProcessEnv = process.env): SendContext {
  const settings = effectiveSettings(loadLocalSettings(root, { createFromSample: false }).values, env, sampleSettingNames(root));
  const connection = env.AzureWebJobsStorage || settings.AzureWebJobsStorage || "UseDevelopmentStorage=true";
  const port = settings.FUNCTIONS_PORT ?? "7071";
  return {
    settings,
    // Few retries: a CLI should say quickly that storage is not there.
    blobs: BlobServiceClient.fromConnectionString(connection, { retryOptions: { maxTries: 2 } }),
    queues: QueueServiceClient.fromConnectionString(connection, { retryOptions: { maxTries: 2 } }),
    messageEncoding: loadHostConfig(path.join(root, "host.json")).queues.messageEncoding,
    functionsUrl: env.FUNCTIONS_URL ?? `http://127.0.0.1:${port}`,
  };
}

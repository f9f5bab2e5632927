import type { BlobServiceClient } from "@azure/storage-blob";
import type { QueueServiceClient } from "@azure/storage-queue";
import type { StorageConfig } from "../config.js";

export interface StorageClients {
  blobService: BlobServiceClient;
  queueService: QueueServiceClient;
}

/**
 * Blob and queue clients built from the same `AzureWebJobsStorage` settings the Functions host
 * reads, so one setting drives the triggers and the app's own reads and writes.
 * The storage SDKs are imported on first use to keep them out of the cold start.
 */
export async function createStorageClients(config: StorageConfig, managedIdentityAvailable: boolean): Promise<StorageClients> {
  const [{ BlobServiceClient }, { QueueServiceClient }] = await Promise.all([
    import("@azure/storage-blob"),
    import("@azure/storage-queue"),
  ]);
  if (config.kind === "connectionString") {
    return {
      blobService: BlobServiceClient.fromConnectionString(config.connectionString),
      queueService: QueueServiceClient.fromConnectionString(config.connectionString),
    };
  }
  const { createCredential } = await import("../openai/credential.js");
  const credential = createCredential({ managedIdentityAvailable, clientId: config.clientId });
  return {
    blobService: new BlobServiceClient(config.blobServiceUri, credential),
    queueService: new QueueServiceClient(config.queueServiceUri, credential),
  };
}

let shared: { config: StorageConfig; clients: Promise<StorageClients> } | undefined;

/** The process-wide storage clients, created on first use. */
export function getStorageClients(config: StorageConfig, managedIdentityAvailable: boolean): Promise<StorageClients> {
  if (shared?.config !== config) shared = { config, clients: createStorageClients(config, managedIdentityAvailable) };
  return shared.clients;
}

import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import type { StorageConfig } from "../config.js";
import { createCredential } from "../openai/credential.js";

export interface StorageClients {
  blobService: BlobServiceClient;
  queueService: QueueServiceClient;
}

/**
 * Blob and queue clients built from the same `AzureWebJobsStorage` settings the Functions host
 * reads, so one setting drives the triggers and the app's own reads and writes.
 */
export function createStorageClients(config: StorageConfig, managedIdentityAvailable: boolean): StorageClients {
  if (config.kind === "connectionString") {
    return {
      blobService: BlobServiceClient.fromConnectionString(config.connectionString),
      queueService: QueueServiceClient.fromConnectionString(config.connectionString),
    };
  }
  const credential = createCredential({ managedIdentityAvailable, clientId: config.clientId });
  return {
    blobService: new BlobServiceClient(config.blobServiceUri, credential),
    queueService: new QueueServiceClient(config.queueServiceUri, credential),
  };
}

let shared: { config: StorageConfig; clients: StorageClients } | undefined;

/** The process-wide storage clients, created on first use. */
export function getStorageClients(config: StorageConfig, managedIdentityAvailable: boolean): StorageClients {
  if (shared?.config !== config) shared = { config, clients: createStorageClients(config, managedIdentityAvailable) };
  return shared.clients;
}

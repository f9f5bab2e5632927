/**
 * Storage clients for a trigger binding's `connection`, resolved as the Functions host resolves
 * it: a connection string setting, or the identity-based form (`<connection>__blobServiceUri`,
 * `__queueServiceUri`, `__credential`, `__clientId`). Lets local triggers use the same settings
 * as the deployed app, emulator or real account.
 */
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";

export interface StorageClients {
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
  /** The storage account name, used in blob scan info paths. */
  accountName: string;
}

/**
 * Resolves a binding's `connection` the way the Functions host does: the setting itself as a
 * connection string, or the identity form `<connection>__blobServiceUri` / `__queueServiceUri`
 * (or `__serviceUri`) with `__credential=managedidentity` and optional `__clientId`.
 * @throws Error naming the missing setting when neither form is configured.
 */
export function resolveStorage(connection: string | undefined, env: NodeJS.ProcessEnv): StorageClients {
  const name = connection && connection.trim() !== "" ? connection : "AzureWebJobsStorage";
  const connectionString = env[name] ?? (name.startsWith("AzureWebJobs") ? undefined : env[`AzureWebJobs${name}`]);
  if (connectionString) {
    const blobs = BlobServiceClient.fromConnectionString(connectionString);
    const queues = QueueServiceClient.fromConnectionString(connectionString);
    return { blobs, queues, accountName: blobs.accountName };
  }
  const blobUri = env[`${name}__blobServiceUri`] ?? env[`${name}__serviceUri`];
  const queueUri = env[`${name}__queueServiceUri`];
  if (blobUri || queueUri) {
    const credential = credentialFor(name, env);
    const blobs = new BlobServiceClient(blobUri ?? queueUri!.replace(".queue.", ".blob."), credential);
    const queues = new QueueServiceClient(queueUri ?? blobUri!.replace(".blob.", ".queue."), credential);
    return { blobs, queues, accountName: blobs.accountName };
  }
  throw new Error(
    `Storage connection "${name}" is not configured. Set ${name} to a connection string ` +
      `(UseDevelopmentStorage=true for Azurite) or set ${name}__blobServiceUri and ${name}__queueServiceUri.`,
  );
}

function credentialFor(name: string, env: NodeJS.ProcessEnv): TokenCredential {
  const clientId = env[`${name}__clientId`];
  if ((env[`${name}__credential`] ?? "").toLowerCase() === "managedidentity") {
    return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}

import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";

/**
 * The Entra ID credential for Azure OpenAI (and identity-based storage).
 * On Azure (or locally with the simulator's identity endpoint) the managed identity is used
 * directly: it is the only credential that can work there, and skipping the chain saves the
 * probes DefaultAzureCredential would make. Elsewhere the chain finds a developer's login
 * (Azure CLI, azd, VS Code). Token caching and refresh are @azure/identity's job.
 */
export function createCredential(options: { managedIdentityAvailable: boolean; clientId: string | undefined }): TokenCredential {
  if (options.managedIdentityAvailable) {
    return options.clientId ? new ManagedIdentityCredential({ clientId: options.clientId }) : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(options.clientId ? { managedIdentityClientId: options.clientId } : {});
}

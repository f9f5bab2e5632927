/**
 * Which credential a request to Azure OpenAI carried: the shared client stamps it on the errors it
 * raises (client.ts), and classifyError (errors.ts) words a 401/403 for it. A module of its own so
 * the client's lazily loaded chunk shares nothing with the entry's eager one but this constant.
 */
export const CREDENTIAL_KIND = "credentialKind";
export type CredentialKind = "api-key" | "entra-id";

/**
 * The one place that constructs an Azure OpenAI client. Every handler gets its client from
 * getOpenAIClient(), so the process holds one client (one connection pool, one token cache).
 *
 * Both API styles are the official `openai` package:
 * - v1:    `OpenAI` with baseURL `{endpoint}/openai/v1/`; `model` is the deployment name.
 * - dated: `AzureOpenAI` with `apiVersion`; it turns `model` into `/openai/deployments/{model}/...`.
 * Callers always pass `model: <deployment>`, so services don't care which style is configured.
 *
 * The client never retries on its own (`maxRetries: 0`): the queue and blob pipelines retry with
 * the one policy of src/openai/retry-policy.ts (AZURE_OPENAI_MAX_RETRIES and the throttle budgets),
 * and HTTP callers get each failure at once and retry themselves.
 */
import type { TokenCredential } from "@azure/identity";
import type { OpenAI } from "openai";
import type { OpenAIConfig } from "../config.js";
import { AppError, useOpenAIErrorClasses, withHint } from "../errors.js";
import { CREDENTIAL_KIND, type CredentialKind } from "./credential-kind.js";

/** Scope of Azure OpenAI (Cognitive Services) for Entra ID tokens. */
export const COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default";

export interface OpenAIClientOptions {
  /** Credential to use instead of the default (managed identity / DefaultAzureCredential). */
  credential?: TokenCredential;
  /**
   * Entra ID tokens from a provider shared with other clients (one per process: a token for
   * Cognitive Services works on every Azure OpenAI resource the identity has a role on).
   */
  tokenProvider?: () => Promise<string>;
  /** Custom fetch (tests, instrumentation), used for every call; by default streamed answers go through undici's request API and the rest through Node's fetch. */
  fetch?: typeof fetch;
  /** Wraps whichever fetch the client uses, e.g. to watch every answer (the router's backend health). */
  wrapFetch?: (fetch: typeof globalThis.fetch) => typeof globalThis.fetch;
}

/** What a client needs of the settings: one resource's endpoint, style and key, and the process-wide options. */
export type OpenAIConnection = Pick<
  OpenAIConfig,
  "endpoint" | "apiStyle" | "apiVersion" | "apiKey" | "clientId" | "timeoutInMs" | "managedIdentityAvailable"
>;

/**
 * One token provider for every client of the process (see OpenAIClientOptions.tokenProvider). A
 * token it cannot get is the app's setup at fault, not any backend's: it fails as `configuration`
 * (code `identity_token_unavailable`), so the router does not blame and pass over every backend in turn.
 */
export async function createTokenProvider(
  config: Pick<OpenAIConfig, "clientId" | "managedIdentityAvailable">,
): Promise<() => Promise<string>> {
  const [{ getBearerTokenProvider }, { createCredential }] = await Promise.all([import("@azure/identity"), import("./credential.js")]);
  const provider = getBearerTokenProvider(
    createCredential({ managedIdentityAvailable: config.managedIdentityAvailable, clientId: config.clientId }),
    COGNITIVE_SERVICES_SCOPE,
  );
  return async () => {
    try {
      return await provider();
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
      throw new AppError(
        "configuration",
        withHint(
          `The app could not get an Entra ID token for Azure OpenAI (${reason})`,
          config.managedIdentityAvailable
            ? "Check the app's managed identity (AZURE_CLIENT_ID names a user-assigned one) and that the platform's identity endpoint is reachable."
            : "Sign in (az login / azd auth login) or set AZURE_OPENAI_API_KEY.",
        ),
        { code: "identity_token_unavailable", cause: error },
      );
    }
  };
}

/**
 * Creates a client for the configured API style and auth mode. Exactly one of API key or
 * Entra ID is used: the key when AZURE_OPENAI_API_KEY is set, otherwise a token provider.
 *
 * `openai` and `@azure/identity` are imported here, on first use, not when the app loads: together
 * they are most of a cold start's module loading, and a Functions host loads every function module
 * (health probes included) before the first invocation.
 */
export async function createOpenAIClient(config: OpenAIConnection, options: OpenAIClientOptions = {}): Promise<OpenAI> {
  const [{ AzureOpenAI, OpenAI }, openaiErrors, { getBearerTokenProvider }, { createCredential }, transport] = await Promise.all([
    import("openai"),
    import("openai/error"),
    import("@azure/identity"),
    import("./credential.js"),
    // undici's request API for streamed answers (see stream-transport.ts); a given fetch is used as it is.
    options.fetch ? undefined : import("./stream-transport.js"),
  ]);
  useOpenAIErrorClasses(openaiErrors);
  const base =
    options.fetch ?? (transport ? transport.createUndiciStreamTransport((input, init) => globalThis.fetch(input, init)) : undefined);
  const fetchFor = options.wrapFetch ? options.wrapFetch(base ?? ((input, init) => globalThis.fetch(input, init))) : base;
  const common = {
    timeout: config.timeoutInMs,
    maxRetries: 0,
    ...(fetchFor ? { fetch: fetchFor } : {}),
  };
  const tokenProvider = config.apiKey
    ? undefined
    : (options.tokenProvider ??
      getBearerTokenProvider(
        options.credential ?? createCredential({ managedIdentityAvailable: config.managedIdentityAvailable, clientId: config.clientId }),
        COGNITIVE_SERVICES_SCOPE,
      ));

  const client =
    config.apiStyle === "v1"
      ? // The v1 API takes the key or the token as `Authorization: Bearer`; OpenAI's apiKey accepts
        // an async function and calls it before each request, so tokens refresh transparently.
        new OpenAI({ ...common, baseURL: `${config.endpoint}/openai/v1/`, apiKey: config.apiKey ?? tokenProvider })
      : new AzureOpenAI({
          ...common,
          endpoint: config.endpoint,
          apiVersion: config.apiVersion,
          ...(config.apiKey ? { apiKey: config.apiKey } : { azureADTokenProvider: tokenProvider }),
        });
  return markCredential(client, config.apiKey ? "api-key" : "entra-id");
}

/**
 * Stamps every status error the client raises with the kind of credential it sent, so a 401/403
 * says what fits the setup (the key, or the identity's role) instead of guessing. The client has
 * no public hook for it; makeStatusError is where it builds those errors.
 */
function markCredential(client: OpenAI, credential: CredentialKind): OpenAI {
  const make = client["makeStatusError"].bind(client);
  client["makeStatusError"] = (...args: Parameters<typeof make>) => Object.assign(make(...args), { [CREDENTIAL_KIND]: credential });
  return client;
}

let shared: { config: OpenAIConfig; client: Promise<OpenAI> } | undefined;

/** The process-wide client for this configuration, created on first use and reused. */
export function getOpenAIClient(config: OpenAIConfig): Promise<OpenAI> {
  if (shared?.config !== config) shared = { config, client: createOpenAIClient(config) };
  return shared.client;
}

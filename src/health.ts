import type { OpenAI } from "openai";
import type { StorageClients } from "./storage/clients.js";
import { classifyError } from "./errors.js";
import { redactSecrets } from "./logging.js";

export interface HealthCheck {
  ok: boolean;
  /** Why it failed, in words a user can act on. Never a secret. */
  reason?: string;
}

export interface HealthReport {
  status: "ok" | "unavailable";
  checks: { configuration: HealthCheck; storage: HealthCheck; openai: HealthCheck };
}

export interface HealthDependencies {
  storage: StorageClients;
  /** One client per Azure OpenAI resource the app routes to (a backend of each, with its own credential). */
  openai: readonly { name: string; client: OpenAI }[];
  /** A container the app needs; reading it proves storage is reachable and authorised. */
  containerName: string;
  timeoutInMs?: number;
  /** Exact secret values (the API key) to mask in reasons: the health route is anonymous. */
  knownSecrets?: readonly string[];
}

/**
 * Checks that storage and Azure OpenAI are reachable and accept the app's credentials.
 * Never throws: every failure becomes a check with a reason.
 */
export async function checkHealth(deps: HealthDependencies): Promise<HealthReport> {
  const timeoutInMs = deps.timeoutInMs ?? 5000;
  const secrets = deps.knownSecrets ?? [];
  const [storage, openai] = await Promise.all([
    probe(
      "Storage",
      "check AzureWebJobsStorage and the account's network access",
      async (signal) => {
        await deps.storage.blobService.getContainerClient(deps.containerName).exists({ abortSignal: signal });
      },
      timeoutInMs,
      secrets,
    ),
    probeResources(deps.openai, timeoutInMs, secrets),
  ]);
  const checks = { configuration: { ok: true }, storage, openai };
  return { status: storage.ok && openai.ok ? "ok" : "unavailable", checks };
}

/**
 * Every Azure OpenAI resource, probed at once. Usable while at least one answers (the router fails
 * over to it); the reason names each one that did not, so a region that is down shows.
 */
async function probeResources(
  resources: HealthDependencies["openai"],
  timeoutInMs: number,
  secrets: readonly string[],
): Promise<HealthCheck> {
  const checks = await Promise.all(
    resources.map(async ({ name, client }) => ({
      name,
      check: await probe(
        resources.length === 1 ? "Azure OpenAI" : `Azure OpenAI (${name})`,
        "check the endpoint (AZURE_OPENAI_ENDPOINT or AZURE_OPENAI_DEPLOYMENTS) and the resource's network access",
        async (signal) => {
          // Listing models is free, needs the same role as inference, and exists in both API styles.
          await client.models.list({ signal });
        },
        timeoutInMs,
        secrets,
      ),
    })),
  );
  const failed = checks.filter(({ check }) => !check.ok);
  if (failed.length === 0) return { ok: true };
  const reason = failed.map(({ name, check }) => (resources.length === 1 ? check.reason : `${name}: ${check.reason}`)).join("; ");
  return { ok: failed.length < checks.length, reason };
}

async function probe(
  name: string,
  hint: string,
  check: (signal: AbortSignal) => Promise<void>,
  timeoutInMs: number,
  secrets: readonly string[],
): Promise<HealthCheck> {
  const signal = AbortSignal.timeout(timeoutInMs);
  try {
    await check(signal);
    return { ok: true };
  } catch (error) {
    // Our own deadline surfaces as a bare "cancelled" (storage retries hide the refused connection).
    const reason = signal.aborted ? `${name} did not answer within ${timeoutInMs} ms; ${hint}` : classifyError(error).message;
    return { ok: false, reason: redactSecrets(reason, secrets) };
  }
}

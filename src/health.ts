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
  openai: OpenAI;
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
    probe(
      "Azure OpenAI",
      "check AZURE_OPENAI_ENDPOINT and the resource's network access",
      async (signal) => {
        // Listing models is free, needs the same role as inference, and exists in both API styles.
        await deps.openai.models.list({ signal });
      },
      timeoutInMs,
      secrets,
    ),
  ]);
  const checks = { configuration: { ok: true }, storage, openai };
  return { status: storage.ok && openai.ok ? "ok" : "unavailable", checks };
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

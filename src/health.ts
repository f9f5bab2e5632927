import type { OpenAI } from "openai";
import type { StorageClients } from "./storage/clients.js";
import { classifyError } from "./errors.js";

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
}

/**
 * Checks that storage and Azure OpenAI are reachable and accept the app's credentials.
 * Never throws: every failure becomes a check with a reason.
 */
export async function checkHealth(deps: HealthDependencies): Promise<HealthReport> {
  const timeoutInMs = deps.timeoutInMs ?? 5000;
  const [storage, openai] = await Promise.all([
    probe(async (signal) => {
      await deps.storage.blobService.getContainerClient(deps.containerName).exists({ abortSignal: signal });
    }, timeoutInMs),
    probe(async (signal) => {
      // Listing models is free, needs the same role as inference, and exists in both API styles.
      await deps.openai.models.list({ signal, maxRetries: 0 });
    }, timeoutInMs),
  ]);
  const checks = { configuration: { ok: true }, storage, openai };
  return { status: storage.ok && openai.ok ? "ok" : "unavailable", checks };
}

async function probe(check: (signal: AbortSignal) => Promise<void>, timeoutInMs: number): Promise<HealthCheck> {
  try {
    await check(AbortSignal.timeout(timeoutInMs));
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: classifyError(error).message };
  }
}

/**
 * The typed client of the simulator's control API (control-api.ts): journal, counters, reset,
 * deployments, settings and tokens over plain HTTP, so that a test or benchmark can drive a
 * simulator running in this process (`sim.control`) or in another one (`createSimulatorControl`).
 */
import type { IssuedToken } from "./auth.js";
import type { DeploymentCounters, JournalEntry } from "./context.js";
import type { DeploymentConfig, FaultRule, LatencyConfig, Operation } from "./deployments.js";
import type { RuntimeSettings } from "./state.js";

export interface CountersSnapshot {
  /** Sum over every deployment and the unrouted requests. */
  total: DeploymentCounters;
  deployments: Record<string, DeploymentCounters>;
  /** Requests refused before reaching a deployment (auth, unknown deployment, bad route). */
  unrouted: DeploymentCounters;
  identity: { tokensIssued: number };
}

export interface JournalQuery {
  deployment?: string;
  operation?: Operation;
  /** Only entries with a larger id. */
  since?: number;
  /** Only the last N matching entries. */
  limit?: number;
}

/** A latency patch: the fields given are set, a field set to null is removed. */
export type LatencyPatch = { [K in keyof LatencyConfig]?: LatencyConfig[K] | null };

/**
 * A deployment patch: `latency` merges, `faults` replaces, a field set to null is removed
 * (`latency: null` removes the whole latency override).
 */
export type DeploymentPatch = { [K in Exclude<keyof DeploymentConfig, "name" | "latency">]?: DeploymentConfig[K] | null } & {
  latency?: LatencyPatch | null;
};

/** Typed client of the control API under /_simulator/, usable from any process. */
export interface SimulatorControl {
  journal(query?: JournalQuery): Promise<JournalEntry[]>;
  counters(): Promise<CountersSnapshot>;
  /** Clears journal, counters, quota windows and fault counts; restores the start deployments unless kept. */
  reset(options?: { keepDeployments?: boolean }): Promise<void>;
  deployments(): Promise<DeploymentConfig[]>;
  deployment(name: string): Promise<DeploymentConfig>;
  /** `name` may be "*" for every deployment; answers the updated deployment(s). */
  updateDeployment(name: string, patch: DeploymentPatch): Promise<DeploymentConfig[]>;
  putDeployment(config: DeploymentConfig): Promise<DeploymentConfig>;
  deleteDeployment(name: string): Promise<void>;
  /** Merges into the deployment's latency; a field set to null is removed. */
  setLatency(name: string, latency: LatencyPatch): Promise<void>;
  /** Sets TPM/RPM (0 or null: unlimited) and the window length. */
  setQuota(name: string, quota: { tpm?: number | null; rpm?: number | null; quotaWindowMs?: number | null }): Promise<void>;
  setFaults(name: string, faults: FaultRule[]): Promise<void>;
  settings(): Promise<RuntimeSettings>;
  updateSettings(settings: Partial<RuntimeSettings>): Promise<RuntimeSettings>;
  /** Mints an Entra token directly (default: audience cognitiveservices, the configured lifetime). */
  issueToken(request?: { resource?: string; lifetimeSeconds?: number; clientId?: string }): Promise<IssuedToken>;
}

/**
 * A control client for the simulator at `url` (`http://127.0.0.1:PORT`).
 * Each method throws an Error carrying the control API's message when it answers non-2xx.
 */
export function createSimulatorControl(url: string): SimulatorControl {
  const base = url.replace(/\/+$/, "") + "/_simulator";
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(base + path, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? text;
      throw new Error(`Simulator control ${method} ${path} failed with ${res.status}: ${message}`);
    }
    return parsed as T;
  }
  const encode = encodeURIComponent;
  const control: SimulatorControl = {
    async journal(query = {}) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
      const queryString = params.toString();
      return (await call<{ entries: JournalEntry[] }>("GET", `/journal${queryString ? `?${queryString}` : ""}`)).entries;
    },
    counters: () => call<CountersSnapshot>("GET", "/counters"),
    async reset(options = {}) {
      await call("POST", "/reset", options);
    },
    async deployments() {
      return (await call<{ deployments: DeploymentConfig[] }>("GET", "/deployments")).deployments;
    },
    deployment: (name) => call<DeploymentConfig>("GET", `/deployments/${encode(name)}`),
    async updateDeployment(name, patch) {
      const updated = await call<DeploymentConfig | { deployments: DeploymentConfig[] }>("PATCH", `/deployments/${encode(name)}`, patch);
      return "deployments" in updated ? updated.deployments : [updated];
    },
    putDeployment: (config) => call<DeploymentConfig>("PUT", `/deployments/${encode(config.name)}`, config),
    async deleteDeployment(name) {
      await call("DELETE", `/deployments/${encode(name)}`);
    },
    async setLatency(name, latency) {
      await control.updateDeployment(name, { latency });
    },
    async setQuota(name, quota) {
      await control.updateDeployment(name, quota);
    },
    async setFaults(name, faults) {
      await control.updateDeployment(name, { faults });
    },
    settings: () => call<RuntimeSettings>("GET", "/settings"),
    updateSettings: (settings) => call<RuntimeSettings>("PATCH", "/settings", settings),
    issueToken: (request = {}) => call<IssuedToken>("POST", "/tokens", request),
  };
  return control;
}

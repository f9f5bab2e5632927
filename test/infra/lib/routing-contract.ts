/**
 * The routing table the Bicep gives the app in AZURE_OPENAI_DEPLOYMENTS: per model name callers
 * send, its backends, one per account serving it. These checks hold the Bicep's JSON to that
 * contract and compare it with an independent computation of what it should be.
 */

/** The capabilities a deployment may serve (the app's routes). */
export const CAPABILITIES = ["chat", "responses", "embeddings", "transcription", "speech", "images", "completions"] as const;

export interface Backend {
  deployment: string;
  endpoint: string;
  capabilities: string[];
  priority: number;
  weight: number;
}

export type RoutingTable = Record<string, Backend[]>;

/** A deployment as main.bicep's openAiDeployments lists it (routing fields only). */
export interface DeploymentEntry {
  name: string;
  alias?: string;
  capabilities: string[];
  priority?: number;
  weight?: number;
}

export interface AccountEntry {
  endpoint: string;
  priorityOffset: number;
  deployments: DeploymentEntry[];
}

const BACKEND_KEYS = ["deployment", "endpoint", "capabilities", "priority", "weight"];

/** What is wrong with `json` as a routing table (empty when it keeps the contract). */
export function routingTableProblems(json: string): string[] {
  let table: unknown;
  try {
    table = JSON.parse(json);
  } catch (error) {
    return [`AZURE_OPENAI_DEPLOYMENTS is not JSON: ${(error as Error).message}`];
  }
  if (typeof table !== "object" || table === null || Array.isArray(table)) return ["AZURE_OPENAI_DEPLOYMENTS must be a JSON object"];
  const problems: string[] = [];
  const entries = Object.entries(table as Record<string, unknown>);
  if (entries.length === 0) problems.push("the routing table names no model");
  const lowerKeys = new Set<string>();
  for (const [model, backends] of entries) {
    if (model.trim() === "") problems.push("a model name is empty");
    if (lowerKeys.has(model.toLowerCase())) problems.push(`model '${model}' appears twice (names are compared without regard to case)`);
    lowerKeys.add(model.toLowerCase());
    if (!Array.isArray(backends) || backends.length === 0) {
      problems.push(`model '${model}' has no backends`);
      continue;
    }
    const seen = new Set<string>();
    for (const [i, backend] of (backends as Record<string, unknown>[]).entries()) {
      const at = `${model}[${i}]`;
      const extra = Object.keys(backend).filter((k) => !BACKEND_KEYS.includes(k));
      if (extra.length > 0) problems.push(`${at} has keys the contract lacks: ${extra.join(", ")}`);
      if (typeof backend.deployment !== "string" || backend.deployment === "") problems.push(`${at} has no deployment name`);
      if (typeof backend.endpoint !== "string" || !/^https:\/\/[a-z0-9.-]+$/i.test(backend.endpoint))
        problems.push(`${at} endpoint must be https://HOST with no trailing slash or path (is ${JSON.stringify(backend.endpoint)})`);
      const capabilities = backend.capabilities;
      if (!Array.isArray(capabilities) || capabilities.length === 0) problems.push(`${at} has no capabilities`);
      else {
        const unknown = capabilities.filter((c) => !(CAPABILITIES as readonly unknown[]).includes(c));
        if (unknown.length > 0) problems.push(`${at} has capabilities outside ${CAPABILITIES.join(", ")}: ${unknown.join(", ")}`);
        if (new Set(capabilities).size !== capabilities.length) problems.push(`${at} lists a capability twice`);
      }
      for (const key of ["priority", "weight"])
        if (!Number.isInteger(backend[key]) || (backend[key] as number) < 1) problems.push(`${at} ${key} must be an integer of at least 1`);
      const identity = `${String(backend.deployment)} at ${String(backend.endpoint)}`;
      if (seen.has(identity)) problems.push(`${at} repeats ${identity}`);
      seen.add(identity);
    }
  }
  return problems;
}

/** The table the contract asks for, computed independently of the Bicep: accounts in order, each deployment under its alias. */
export function expectedRoutingTable(accounts: readonly AccountEntry[]): RoutingTable {
  const table: RoutingTable = {};
  for (const account of accounts) {
    for (const d of account.deployments) {
      (table[d.alias ?? d.name] ??= []).push({
        deployment: d.name,
        endpoint: account.endpoint.replace(/\/$/, ""),
        capabilities: d.capabilities,
        priority: (d.priority ?? 1) + account.priorityOffset,
        weight: d.weight ?? 1,
      });
    }
  }
  return table;
}

/**
 * The routing table: for each model name callers send, the Azure OpenAI deployments (backends)
 * that serve it. It comes from AZURE_OPENAI_DEPLOYMENTS (docs/routing.md) or, when that is unset,
 * from today's one-deployment-per-capability settings, which make a one-backend-per-model table.
 *
 * Parsing is pure: it takes the raw value and the defaults the other settings give, and returns
 * every problem found rather than the first, like the rest of the settings check.
 */
import type { ApiStyle } from "../config.js";

export const CAPABILITIES = ["chat", "responses", "embeddings", "transcription", "speech", "images", "completions"] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface Backend {
  /** Label for log lines and the `x-backend` response header: never a secret. */
  name: string;
  /** Resource endpoint without a trailing slash, e.g. `https://contoso-eu.openai.azure.com`. */
  endpoint: string;
  deployment: string;
  apiStyle: ApiStyle;
  apiVersion: string;
  /** This resource's API key; undefined means Entra ID (the app's managed identity). */
  apiKey: string | undefined;
  /** Lower is tried first; backends of a higher priority take the spillover. */
  priority: number;
  /** Share of the traffic within its priority group. */
  weight: number;
  capabilities: readonly Capability[];
}

export interface RoutingTable {
  /** Model name → its backends, in the table's order. */
  models: ReadonlyMap<string, readonly Backend[]>;
  /** Where it came from: AZURE_OPENAI_DEPLOYMENTS, or the one-deployment-per-capability settings. */
  source: "AZURE_OPENAI_DEPLOYMENTS" | "deployment settings";
}

/** What the other settings give a backend that leaves a field out. */
export interface BackendDefaults {
  endpoint: string | undefined;
  apiStyle: ApiStyle;
  apiVersion: string;
  /** AZURE_OPENAI_API_KEY: used only for backends on the default endpoint (a key belongs to one resource). */
  apiKey: string | undefined;
}

/** Reads what the table's fields need from outside it: the endpoint parser, api-versions, other settings. */
export interface TableContext {
  defaults: BackendDefaults;
  parseEndpoint: (raw: string) => string;
  isServedApiVersion: (version: string) => boolean;
  /** The value of another app setting (for `apiKeySetting`). */
  setting: (name: string) => string | undefined;
}

const BACKEND_FIELDS = ["deployment", "capabilities", "endpoint", "priority", "weight", "apiStyle", "apiVersion", "name", "apiKeySetting"];
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const DEPLOYMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Parses AZURE_OPENAI_DEPLOYMENTS' JSON.
 * @returns the table, and every problem as a phrase that follows the setting's name.
 */
export function parseRoutingTable(json: string, context: TableContext): { table: RoutingTable; problems: string[] } {
  const problems: string[] = [];
  const models = new Map<string, Backend[]>();
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return {
      table: { models, source: "AZURE_OPENAI_DEPLOYMENTS" },
      problems: [`is not valid JSON (${(error as Error).message}); see docs/routing.md for the format`],
    };
  }
  if (!isPlainObject(value) || Object.keys(value).length === 0) {
    problems.push(
      'must be a JSON object mapping each model name to an array of backends, e.g. {"gpt-4o": [{"deployment": "prod-4o-eu", "capabilities": ["chat"]}]}',
    );
    return { table: { models, source: "AZURE_OPENAI_DEPLOYMENTS" }, problems };
  }
  for (const [model, entries] of Object.entries(value)) {
    if (!NAME_PATTERN.test(model)) {
      problems.push(`has an invalid model name "${model}"; use up to 64 letters, digits, '.', '_', ':' or '-'`);
      continue;
    }
    if (!Array.isArray(entries) || entries.length === 0) {
      problems.push(`"${model}" must be a non-empty array of backends`);
      continue;
    }
    const backends: Backend[] = [];
    entries.forEach((entry, index) => {
      const backend = parseBackend(entry, `"${model}"[${index}]`, context, problems);
      if (backend) backends.push(backend);
    });
    const names = backends.map((backend) => backend.name);
    for (const name of new Set(names.filter((name, i) => names.indexOf(name) !== i))) {
      problems.push(`"${model}" has two backends named "${name}"; give each a distinct "name"`);
    }
    models.set(model, backends);
  }
  return { table: { models, source: "AZURE_OPENAI_DEPLOYMENTS" }, problems };
}

function parseBackend(entry: unknown, where: string, context: TableContext, problems: string[]): Backend | undefined {
  if (!isPlainObject(entry)) {
    problems.push(`${where} must be an object like {"deployment": "...", "capabilities": ["chat"]}`);
    return undefined;
  }
  const before = problems.length;
  for (const key of Object.keys(entry)) {
    if (!BACKEND_FIELDS.includes(key)) problems.push(`${where} has an unknown field "${key}"; the fields are ${BACKEND_FIELDS.join(", ")}`);
  }
  const { deployment, capabilities, endpoint, priority, weight, apiStyle, apiVersion, name, apiKeySetting } = entry;

  if (typeof deployment !== "string" || !DEPLOYMENT_PATTERN.test(deployment)) {
    problems.push(`${where}.deployment must be the Azure deployment name (letters, digits, '.', '_', '-'; up to 64)`);
  }
  if (!Array.isArray(capabilities) || capabilities.length === 0) {
    problems.push(`${where}.capabilities must be a non-empty array of ${CAPABILITIES.join(", ")}`);
  } else {
    for (const capability of capabilities) {
      if (!CAPABILITIES.includes(capability as Capability)) {
        problems.push(`${where}.capabilities has "${String(capability)}"; use ${CAPABILITIES.join(", ")}`);
      }
    }
  }
  let resolvedEndpoint = context.defaults.endpoint;
  if (endpoint !== undefined) {
    try {
      if (typeof endpoint !== "string") throw new Error("must be a string");
      resolvedEndpoint = context.parseEndpoint(endpoint);
    } catch (error) {
      problems.push(`${where}.endpoint ${(error as Error).message}`);
    }
  } else if (resolvedEndpoint === undefined) {
    problems.push(
      `${where}.endpoint is missing and AZURE_OPENAI_ENDPOINT is not set; give the resource endpoint, e.g. https://NAME.openai.azure.com`,
    );
  }
  if (priority !== undefined && !(Number.isSafeInteger(priority) && (priority as number) >= 0)) {
    problems.push(`${where}.priority must be a whole number >= 0 (lower is tried first)`);
  }
  if (weight !== undefined && !(typeof weight === "number" && weight > 0 && Number.isFinite(weight))) {
    problems.push(`${where}.weight must be a number > 0 (its share of traffic within its priority)`);
  }
  if (apiStyle !== undefined && apiStyle !== "v1" && apiStyle !== "dated") {
    problems.push(`${where}.apiStyle must be "v1" or "dated"`);
  }
  if (apiVersion !== undefined && (typeof apiVersion !== "string" || !context.isServedApiVersion(apiVersion))) {
    problems.push(`${where}.apiVersion must be an api-version Azure OpenAI serves, e.g. "2024-10-21"`);
  }
  if (name !== undefined && (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._/:-]{0,99}$/.test(name))) {
    problems.push(`${where}.name must be a label of letters, digits, '.', '_', '/', ':' or '-' (it is sent in the x-backend header)`);
  }
  let apiKey: string | undefined;
  if (apiKeySetting !== undefined) {
    if (typeof apiKeySetting !== "string" || apiKeySetting === "") {
      problems.push(`${where}.apiKeySetting must name the app setting that holds this resource's API key`);
    } else {
      apiKey = context.setting(apiKeySetting);
      if (apiKey === undefined)
        problems.push(`${where}.apiKeySetting names "${apiKeySetting}", which is not set; set it or remove apiKeySetting to use Entra ID`);
    }
  } else if (resolvedEndpoint !== undefined && resolvedEndpoint === context.defaults.endpoint) {
    apiKey = context.defaults.apiKey;
  }
  if (problems.length > before || resolvedEndpoint === undefined) return undefined;

  const deploymentName = deployment as string;
  return withHiddenKey(
    {
      name: (name as string | undefined) ?? defaultBackendName(resolvedEndpoint, deploymentName),
      endpoint: resolvedEndpoint,
      deployment: deploymentName,
      apiStyle: (apiStyle as ApiStyle | undefined) ?? context.defaults.apiStyle,
      apiVersion: (apiVersion as string | undefined) ?? context.defaults.apiVersion,
      priority: (priority as number | undefined) ?? 0,
      weight: (weight as number | undefined) ?? 1,
      capabilities: [...new Set(capabilities as Capability[])],
    },
    apiKey,
  );
}

/** `{first label of the host}/{deployment}`, e.g. `contoso-eu/prod-4o-eu`; the port too for a local simulator. */
export function defaultBackendName(endpoint: string, deployment: string): string {
  if (!URL.canParse(endpoint)) return deployment; // only while the settings check is about to fail
  const url = new URL(endpoint);
  const host = url.hostname.split(".")[0] ?? url.hostname;
  return `${url.port ? `${host}:${url.port}` : host}/${deployment}`;
}

/**
 * Today's settings as a table: each configured deployment is a model of its own name on the one
 * endpoint, serving its capability (the chat deployment serves chat and Responses).
 */
export function singleEndpointTable(
  defaults: BackendDefaults & { endpoint: string },
  deployments: Partial<Record<Capability, string>>,
  moreTranscription: readonly string[] = [],
): RoutingTable {
  const capabilitiesOf = new Map<string, Capability[]>();
  for (const capability of CAPABILITIES) {
    const deployment = deployments[capability];
    if (deployment !== undefined) capabilitiesOf.set(deployment, [...(capabilitiesOf.get(deployment) ?? []), capability]);
  }
  // AZURE_OPENAI_TRANSCRIPTION_MODELS: more transcription models a blob or request may name.
  for (const deployment of moreTranscription) {
    const capabilities = capabilitiesOf.get(deployment) ?? [];
    if (!capabilities.includes("transcription")) capabilitiesOf.set(deployment, [...capabilities, "transcription"]);
  }
  const models = new Map<string, Backend[]>();
  for (const [deployment, capabilities] of capabilitiesOf) {
    models.set(deployment, [
      withHiddenKey(
        {
          name: defaultBackendName(defaults.endpoint, deployment),
          endpoint: defaults.endpoint,
          deployment,
          apiStyle: defaults.apiStyle,
          apiVersion: defaults.apiVersion,
          priority: 0,
          weight: 1,
          capabilities,
        },
        defaults.apiKey,
      ),
    ]);
  }
  return { models, source: "deployment settings" };
}

/**
 * The backend with its API key as a property that JSON.stringify and object spreads leave out:
 * backends travel into records, results and log arguments, and a key must never go with them.
 */
function withHiddenKey(backend: Omit<Backend, "apiKey">, apiKey: string | undefined): Backend {
  return Object.defineProperty(backend, "apiKey", { value: apiKey, enumerable: false }) as Backend;
}

/** Every API key the table holds, to mask in logs and errors. */
export function tableSecrets(table: RoutingTable): string[] {
  const keys = new Set<string>();
  for (const backends of table.models.values()) for (const backend of backends) if (backend.apiKey) keys.add(backend.apiKey);
  return [...keys];
}

/**
 * One backend per Azure OpenAI resource (endpoint), in the table's order, optionally only among
 * those serving `capability`: for calls about the resource rather than a model (health, stored
 * Responses looked up by id).
 */
export function resourcesOf(table: RoutingTable, capability?: Capability): Backend[] {
  const seen = new Map<string, Backend>();
  for (const backends of table.models.values()) {
    for (const backend of backends) {
      if ((capability === undefined || backend.capabilities.includes(capability)) && !seen.has(backend.endpoint)) {
        seen.set(backend.endpoint, backend);
      }
    }
  }
  return [...seen.values()];
}

/** The models that serve `capability`, in the table's order. */
export function modelsServing(table: RoutingTable, capability: Capability): string[] {
  return [...table.models].filter(([, backends]) => backends.some((b) => b.capabilities.includes(capability))).map(([model]) => model);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

import { readFile } from "node:fs/promises";

/** What a deployment's model can do; decides which operations it accepts. */
export type Capability = "chat" | "completions" | "embeddings" | "transcription" | "speech" | "image";

/** The data-plane operations, named by their path after the deployment. */
export type Operation =
  "chat/completions" | "completions" | "embeddings" | "audio/transcriptions" | "audio/translations" | "audio/speech" | "images/generations";

export const OPERATIONS: readonly Operation[] = [
  "chat/completions",
  "completions",
  "embeddings",
  "audio/transcriptions",
  "audio/translations",
  "audio/speech",
  "images/generations",
];

export const CAPABILITY_OPERATIONS: Record<Capability, readonly Operation[]> = {
  chat: ["chat/completions"],
  completions: ["completions"],
  embeddings: ["embeddings"],
  transcription: ["audio/transcriptions", "audio/translations"],
  speech: ["audio/speech"],
  image: ["images/generations"],
};

/**
 * How long the simulated model takes. Every mean is sampled from a normal distribution whose
 * standard deviation is `stdDevRatio` times the mean (0 makes it exact).
 */
export interface LatencyConfig {
  /** Chat/completions: time from request to the first content token. */
  timeToFirstTokenMs: number;
  /** Chat/completions: generation speed after the first token. */
  tokensPerSecond: number;
  /** Embeddings: time for one request, whatever its size. */
  embeddingsMs: number;
  /** Transcriptions/translations: seconds of processing per second of audio. */
  audioRealTimeFactor: number;
  /** Speech, images, models and anything else: fixed time per request. */
  requestMs: number;
  /** Spread of every sampled latency, as a fraction of its mean. */
  stdDevRatio: number;
}

/** Defaults: small, so that tests are quick, yet non-zero so that streaming really streams. */
export const DEFAULT_LATENCY: LatencyConfig = {
  timeToFirstTokenMs: 20,
  tokensPerSecond: 1000,
  embeddingsMs: 10,
  audioRealTimeFactor: 0.001,
  requestMs: 10,
  stdDevRatio: 0.1,
};

/** Latency for tests that only care about outcomes. */
export const NO_LATENCY: LatencyConfig = {
  timeToFirstTokenMs: 0,
  tokensPerSecond: 0,
  embeddingsMs: 0,
  audioRealTimeFactor: 0,
  requestMs: 0,
  stdDevRatio: 0,
};

/** Kinds of injected fault. A number is an HTTP status answered in Azure's shape. */
export type FaultKind = number | "delay" | "reset" | "drop" | "content-filter" | "finish-content-filter";

/**
 * A fault rule. Which requests it hits: `times` (the next N matching requests), `every` (every
 * Nth matching request), `rate` (a seeded fraction), or all of them when none is given.
 */
export interface FaultRule {
  kind: FaultKind;
  /** Probability in [0, 1] that a matching request is hit, drawn from the seeded generator. */
  rate?: number;
  /** Hit the Nth, 2Nth, ... matching request. */
  every?: number;
  /** Hit only the next N matching requests, then stop. */
  times?: number;
  /** Only these operations (default: all). */
  operations?: Operation[];
  /** `delay`: extra milliseconds; an HTTP status: its retry-after in milliseconds (429 and 503: default 1000). */
  ms?: number;
  /** `drop` / `finish-content-filter`: content tokens sent first (default 3). */
  afterTokens?: number;
}

/** One model deployment, as in a deployments file. */
export interface DeploymentConfig {
  /** The deployment name: the path segment (dated API) or `model` (v1 API). */
  name: string;
  /** The underlying model, e.g. `gpt-4o-mini`. */
  model: string;
  /** The model version, reported in responses as `model-version` (e.g. 2024-07-18). */
  modelVersion?: string;
  capability: Capability;
  /** Tokens per minute (per `quotaWindowMs`); absent or 0 means unlimited. */
  tpm?: number;
  /** Requests per minute (per `quotaWindowMs`); absent or 0 means unlimited. */
  rpm?: number;
  /** Length of the sliding quota window; default 60000 (a minute, as Azure's quotas are named). */
  quotaWindowMs?: number;
  /** Embeddings: default and maximum dimensions. */
  dimensions?: number;
  /** Embeddings: max tokens per input (8191); chat: context window (128000). */
  maxInputTokens?: number;
  latency?: Partial<LatencyConfig>;
  faults?: FaultRule[];
  /**
   * Streaming content filter: `default` puts filter results on each content chunk; `asynchronous`
   * sends content at once and the filter results afterwards in annotation-only chunks (Azure's
   * "asynchronous filter" mode).
   */
  contentFilterMode?: "default" | "asynchronous";
}

/** The set the simulator serves when no other is given. */
export const DEFAULT_DEPLOYMENTS: readonly DeploymentConfig[] = [
  { name: "gpt-4o-mini", model: "gpt-4o-mini", modelVersion: "2024-07-18", capability: "chat", tpm: 1_000_000, rpm: 6_000 },
  {
    name: "text-embedding-3-small",
    model: "text-embedding-3-small",
    modelVersion: "1",
    capability: "embeddings",
    tpm: 1_000_000,
    rpm: 6_000,
    dimensions: 1536,
  },
  { name: "whisper", model: "whisper", modelVersion: "001", capability: "transcription", rpm: 300 },
  { name: "tts", model: "tts", modelVersion: "001", capability: "speech", rpm: 300 },
  { name: "dall-e-3", model: "dall-e-3", modelVersion: "3.0", capability: "image", rpm: 60 },
];

const CAPABILITIES = new Set<Capability>(["chat", "completions", "embeddings", "transcription", "speech", "image"]);
const FAULT_WORDS = new Set(["delay", "reset", "drop", "content-filter", "finish-content-filter"]);
const LATENCY_KEYS = new Set(Object.keys(DEFAULT_LATENCY));

/**
 * Checks one deployment (from a file or the control API) and returns a clean copy.
 * @throws Error naming every problem found.
 */
export function validateDeployment(value: unknown, where = "deployment"): DeploymentConfig {
  const problems: string[] = [];
  if (!isObject(value)) throw new Error(`${where}: expected an object`);
  const d = value;
  if (typeof d.name !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(d.name)) problems.push("name: 1-64 letters, digits, '.', '_' or '-'");
  if (typeof d.model !== "string" || d.model === "") problems.push("model: a non-empty string");
  if (typeof d.capability !== "string" || !CAPABILITIES.has(d.capability as Capability))
    problems.push(`capability: one of ${[...CAPABILITIES].join(", ")}`);
  for (const key of ["tpm", "rpm", "quotaWindowMs", "dimensions", "maxInputTokens"] as const) {
    const v = d[key];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 0)) problems.push(`${key}: a non-negative integer`);
  }
  if (d.modelVersion !== undefined && typeof d.modelVersion !== "string") problems.push("modelVersion: a string");
  if (d.contentFilterMode !== undefined && d.contentFilterMode !== "default" && d.contentFilterMode !== "asynchronous")
    problems.push("contentFilterMode: default or asynchronous");
  problems.push(...latencyProblems(d.latency));
  problems.push(...faultProblems(d.faults));
  if (problems.length) throw new Error(`${where}: ${problems.join("; ")}`);
  return structuredClone(d) as unknown as DeploymentConfig;
}

export function latencyProblems(latency: unknown): string[] {
  if (latency === undefined) return [];
  if (!isObject(latency)) return ["latency: an object"];
  const problems: string[] = [];
  for (const [k, v] of Object.entries(latency)) {
    if (!LATENCY_KEYS.has(k)) problems.push(`latency.${k}: unknown (known: ${[...LATENCY_KEYS].join(", ")})`);
    else if (typeof v !== "number" || !(v >= 0)) problems.push(`latency.${k}: a non-negative number`);
  }
  return problems;
}

export function faultProblems(faults: unknown): string[] {
  if (faults === undefined) return [];
  if (!Array.isArray(faults)) return ["faults: an array"];
  const problems: string[] = [];
  faults.forEach((f: unknown, i) => {
    if (!isObject(f)) return void problems.push(`faults[${i}]: an object`);
    const k = f.kind;
    if (!(typeof k === "number" && Number.isInteger(k) && k >= 400 && k <= 599) && !(typeof k === "string" && FAULT_WORDS.has(k)))
      problems.push(`faults[${i}].kind: an HTTP status 400-599 or one of ${[...FAULT_WORDS].join(", ")}`);
    if (f.rate !== undefined && !(typeof f.rate === "number" && f.rate >= 0 && f.rate <= 1))
      problems.push(`faults[${i}].rate: a number in [0, 1]`);
    for (const key of ["every", "times", "ms", "afterTokens"] as const) {
      const v = f[key];
      if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 0))
        problems.push(`faults[${i}].${key}: a non-negative integer`);
    }
    if (
      f.operations !== undefined &&
      !(Array.isArray(f.operations) && f.operations.every((o) => (OPERATIONS as readonly unknown[]).includes(o)))
    )
      problems.push(`faults[${i}].operations: a list of ${OPERATIONS.join(", ")}`);
  });
  return problems;
}

/**
 * Reads a deployments file: either an array of deployments or `{ "deployments": [...] }`.
 * @throws Error when the file is missing, not JSON, or a deployment is malformed.
 */
export async function loadDeploymentsFile(path: string): Promise<DeploymentConfig[]> {
  const text = await readFile(path, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : isObject(parsed) ? parsed.deployments : undefined;
  if (!Array.isArray(list)) throw new Error(`${path}: expected an array of deployments or {"deployments": [...]}`);
  return validateDeployments(list, path);
}

/** @throws Error on a malformed deployment or a duplicate name. */
export function validateDeployments(list: readonly unknown[], where = "deployments"): DeploymentConfig[] {
  const seen = new Set<string>();
  return list.map((d, i) => {
    const dep = validateDeployment(d, `${where}[${i}]`);
    if (seen.has(dep.name)) throw new Error(`${where}[${i}]: duplicate deployment name ${dep.name}`);
    seen.add(dep.name);
    return dep;
  });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

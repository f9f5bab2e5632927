/**
 * What the simulator serves: the deployments (name, model, capability, quota, latency, faults),
 * the operations each capability accepts, the latency model and the shipped default set, plus
 * the checks that a deployment from a file or the control API is well formed. A deployments file
 * lets a test or benchmark mirror the Azure resource it stands in for.
 */
import { readFile } from "node:fs/promises";

/** What a deployment's model can do; decides which operations it accepts. */
export type Capability = "chat" | "completions" | "embeddings" | "transcription" | "speech" | "image";

/** The data-plane operations, named by their path (after /deployments/{name}/ on dated paths; `responses` has its own). */
export type Operation =
  | "chat/completions"
  | "completions"
  | "embeddings"
  | "audio/transcriptions"
  | "audio/translations"
  | "audio/speech"
  | "images/generations"
  | "images/edits"
  | "responses";

export const OPERATIONS: readonly Operation[] = [
  "chat/completions",
  "completions",
  "embeddings",
  "audio/transcriptions",
  "audio/translations",
  "audio/speech",
  "images/generations",
  "images/edits",
  "responses",
];

export const CAPABILITY_OPERATIONS: Record<Capability, readonly Operation[]> = {
  chat: ["chat/completions", "responses"],
  completions: ["completions"],
  embeddings: ["embeddings"],
  transcription: ["audio/transcriptions", "audio/translations"],
  speech: ["audio/speech"],
  // Edits only on the GPT image models; prepareImageEdit refuses dall-e with Azure's OperationNotSupported.
  image: ["images/generations", "images/edits"],
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
  /** Transcriptions/translations: seconds of processing per second of audio; speech: seconds of generation per second of audio produced. */
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
export type FaultKind = number | "delay" | "reset" | "drop" | "headers-only" | "stream-error" | "content-filter" | "finish-content-filter";

/**
 * A fault rule. Which requests it hits: `times` (the next N matching requests), `every` (every
 * Nth matching request), `rate` (a seeded fraction), or all of them when none is given; and when:
 * `fromMs` / `untilMs` / `periodMs` + `activeMs` (a schedule, from when the rules were set), or always.
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
  /** `drop` / `finish-content-filter`: content tokens sent first (default 3); `stream-error`: default 0. */
  afterTokens?: number;
  /** Schedule: active only from this many ms after the rules were set (start, PUT, PATCH of faults, reset). */
  fromMs?: number;
  /** Schedule: active only until this many ms after the rules were set. */
  untilMs?: number;
  /** Schedule: repeats every `periodMs` (counted from `fromMs`), active for the first `activeMs` of each period. */
  periodMs?: number;
  activeMs?: number;
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
  // The app's defaults for speech and images (AZURE_OPENAI_SPEECH_DEPLOYMENT, AZURE_OPENAI_IMAGES_DEPLOYMENT).
  { name: "gpt-4o-mini-tts", model: "gpt-4o-mini-tts", modelVersion: "2025-12-15", capability: "speech", rpm: 300 },
  { name: "gpt-image-1", model: "gpt-image-1", modelVersion: "2025-04-15", capability: "image", rpm: 60 },
  // The gpt-4o transcribe models, named after them as the app's sample settings expect (AZURE_OPENAI_TRANSCRIPTION_MODELS).
  { name: "gpt-4o-transcribe", model: "gpt-4o-transcribe", modelVersion: "2025-03-20", capability: "transcription", rpm: 300 },
  { name: "gpt-4o-mini-transcribe", model: "gpt-4o-mini-transcribe", modelVersion: "2025-12-15", capability: "transcription", rpm: 300 },
  {
    name: "gpt-4o-transcribe-diarize",
    model: "gpt-4o-transcribe-diarize",
    modelVersion: "2025-10-15",
    capability: "transcription",
    rpm: 300,
  },
];

const CAPABILITIES = new Set<Capability>(["chat", "completions", "embeddings", "transcription", "speech", "image"]);
const FAULT_WORDS = new Set(["delay", "reset", "drop", "headers-only", "stream-error", "content-filter", "finish-content-filter"]);
const LATENCY_KEYS = new Set(Object.keys(DEFAULT_LATENCY));

/**
 * Checks one deployment (from a file or the control API) and returns a clean copy.
 * @throws Error naming every problem found.
 */
export function validateDeployment(value: unknown, where = "deployment"): DeploymentConfig {
  const problems: string[] = [];
  if (!isObject(value)) throw new Error(`${where}: expected an object`);
  const deployment = value;
  if (typeof deployment.name !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(deployment.name))
    problems.push("name: 1-64 letters, digits, '.', '_' or '-'");
  if (typeof deployment.model !== "string" || deployment.model === "") problems.push("model: a non-empty string");
  if (typeof deployment.capability !== "string" || !CAPABILITIES.has(deployment.capability as Capability))
    problems.push(`capability: one of ${[...CAPABILITIES].join(", ")}`);
  for (const key of ["tpm", "rpm", "quotaWindowMs", "dimensions", "maxInputTokens"] as const) {
    const fieldValue = deployment[key];
    if (fieldValue !== undefined && !(typeof fieldValue === "number" && Number.isInteger(fieldValue) && fieldValue >= 0))
      problems.push(`${key}: a non-negative integer`);
  }
  if (deployment.modelVersion !== undefined && typeof deployment.modelVersion !== "string") problems.push("modelVersion: a string");
  if (
    deployment.contentFilterMode !== undefined &&
    deployment.contentFilterMode !== "default" &&
    deployment.contentFilterMode !== "asynchronous"
  )
    problems.push("contentFilterMode: default or asynchronous");
  problems.push(...latencyProblems(deployment.latency));
  problems.push(...faultProblems(deployment.faults));
  if (problems.length) throw new Error(`${where}: ${problems.join("; ")}`);
  return structuredClone(deployment) as unknown as DeploymentConfig;
}

export function latencyProblems(latency: unknown): string[] {
  if (latency === undefined) return [];
  if (!isObject(latency)) return ["latency: an object"];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(latency)) {
    if (!LATENCY_KEYS.has(key)) problems.push(`latency.${key}: unknown (known: ${[...LATENCY_KEYS].join(", ")})`);
    else if (typeof value !== "number" || !(value >= 0)) problems.push(`latency.${key}: a non-negative number`);
  }
  return problems;
}

export function faultProblems(faults: unknown): string[] {
  if (faults === undefined) return [];
  if (!Array.isArray(faults)) return ["faults: an array"];
  const problems: string[] = [];
  faults.forEach((fault: unknown, i) => {
    if (!isObject(fault)) return void problems.push(`faults[${i}]: an object`);
    const kind = fault.kind;
    if (
      !(typeof kind === "number" && Number.isInteger(kind) && kind >= 400 && kind <= 599) &&
      !(typeof kind === "string" && FAULT_WORDS.has(kind))
    )
      problems.push(`faults[${i}].kind: an HTTP status 400-599 or one of ${[...FAULT_WORDS].join(", ")}`);
    if (fault.rate !== undefined && !(typeof fault.rate === "number" && fault.rate >= 0 && fault.rate <= 1))
      problems.push(`faults[${i}].rate: a number in [0, 1]`);
    for (const key of ["every", "times", "ms", "afterTokens", "fromMs", "untilMs", "periodMs", "activeMs"] as const) {
      const fieldValue = fault[key];
      if (fieldValue !== undefined && !(typeof fieldValue === "number" && Number.isInteger(fieldValue) && fieldValue >= 0))
        problems.push(`faults[${i}].${key}: a non-negative integer`);
    }
    problems.push(...scheduleProblems(fault).map((problem) => `faults[${i}].${problem}`));
    if (
      fault.operations !== undefined &&
      !(Array.isArray(fault.operations) && fault.operations.every((operation) => (OPERATIONS as readonly unknown[]).includes(operation)))
    )
      problems.push(`faults[${i}].operations: a list of ${OPERATIONS.join(", ")}`);
  });
  return problems;
}

/** A schedule must be able to fire: a period with an active part, an end after its start. */
function scheduleProblems(fault: Record<string, unknown>): string[] {
  const { fromMs, untilMs, periodMs, activeMs } = fault;
  const problems: string[] = [];
  if ((periodMs === undefined) !== (activeMs === undefined)) problems.push("periodMs and activeMs: both or neither");
  if (typeof periodMs === "number" && !(periodMs > 0)) problems.push("periodMs: more than 0");
  if (typeof activeMs === "number" && typeof periodMs === "number" && !(activeMs > 0 && activeMs <= periodMs))
    problems.push("activeMs: more than 0, at most periodMs");
  if (typeof untilMs === "number" && typeof fromMs === "number" && !(untilMs > fromMs)) problems.push("untilMs: after fromMs");
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
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : isObject(parsed) ? parsed.deployments : undefined;
  if (!Array.isArray(list)) throw new Error(`${path}: expected an array of deployments or {"deployments": [...]}`);
  return validateDeployments(list, path);
}

/** @throws Error on a malformed deployment or a duplicate name. */
export function validateDeployments(list: readonly unknown[], where = "deployments"): DeploymentConfig[] {
  const seen = new Set<string>();
  return list.map((entry, i) => {
    const deployment = validateDeployment(entry, `${where}[${i}]`);
    if (seen.has(deployment.name)) throw new Error(`${where}[${i}]: duplicate deployment name ${deployment.name}`);
    seen.add(deployment.name);
    return deployment;
  });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

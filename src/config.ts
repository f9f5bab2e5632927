/**
 * The app's settings: the only module that reads the environment. Every setting is read once,
 * validated, and any problems are reported together in one ConfigurationError, so a user fixes
 * their settings in one pass instead of one restart per mistake.
 *
 * The names are part of the product: infra/ (Bicep) and local.settings.sample.json use them too.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigurationError } from "./errors.js";
import { parseCallerKeyNames, type CallerConfig } from "./http/caller.js";
import { isServedApiVersion, nearestApiVersions } from "./openai/api-versions.js";
import {
  modelsServing,
  parseRoutingTable,
  singleEndpointTable,
  tableSecrets,
  type Capability,
  type RoutingTable,
} from "./routing/table.js";
import { EMPTY_PRICE_TABLE, parsePriceTable, type PriceTable } from "./metrics/prices.js";
import { parseCallerLimits, type CallerLimitsTable } from "./caller-limits/limits-table.js";

export type ApiStyle = "v1" | "dated";
export type BlobTriggerSource = "LogsAndContainerScan" | "EventGrid";
export type HttpAuthLevel = "function" | "anonymous";

export interface OpenAIConfig {
  /** Resource endpoint without a trailing slash or `/openai/...` suffix, e.g. `https://contoso.openai.azure.com`. */
  endpoint: string;
  apiStyle: ApiStyle;
  /** Used only by the dated API style. */
  apiVersion: string;
  /** Set only when key auth is wanted; otherwise Entra ID (managed identity) is used. */
  apiKey: string | undefined;
  /** Client id of a user-assigned managed identity. */
  clientId: string | undefined;
  timeoutInMs: number;
  /** Extra attempts after a transient failure in the queue and blob pipelines (src/openai/retry-policy.ts). */
  maxRetries: number;
  /**
   * True when the platform offers a managed identity endpoint (Azure, or the local simulator's
   * stand-in): then ManagedIdentityCredential is used instead of the DefaultAzureCredential chain.
   */
  managedIdentityAvailable: boolean;
  /**
   * The model each capability uses when a request, message or blob names none. Without
   * AZURE_OPENAI_DEPLOYMENTS these are the deployments themselves (each a model of its own name).
   */
  deployments: {
    chat: string;
    embeddings: string;
    transcription: string;
    /** Text to speech; undefined when turned off (the setting present but empty). */
    speech: string | undefined;
    /** Image generation; undefined when turned off (the setting present but empty). */
    images: string | undefined;
    /** Legacy completions; unset unless AZURE_OPENAI_COMPLETIONS_DEPLOYMENT names one. */
    completions: string | undefined;
  };
  /** Every model callers may name and the backends behind it (src/routing/). */
  routing: RoutingConfig;
}

export interface RoutingConfig {
  table: RoutingTable;
  /** Consecutive failures (5xx, no connection, timeout) that open a backend's circuit. */
  circuitFailures: number;
  /** How long an open circuit passes a backend over before one request probes it. */
  circuitBreakInMs: number;
}

/** Storage settings, in the same form the Functions host reads them from `AzureWebJobsStorage`. */
export type StorageConfig =
  | { kind: "connectionString"; connectionString: string }
  | {
      kind: "identity";
      blobServiceUri: string;
      queueServiceUri: string;
      /** Client id from `AzureWebJobsStorage__clientId`, for a user-assigned identity. */
      clientId: string | undefined;
    };

/** Where metrics go (src/metrics/); `auto` is resolved at load. */
export type MetricsExport = "azure-monitor" | "otlp" | "console" | "off";

export interface MetricsConfig {
  export: MetricsExport;
  consoleIntervalInMs: number;
  /** Base URL of an OTLP/HTTP receiver (metrics go to `/v1/metrics` under it). */
  otlpEndpoint: string | undefined;
  applicationInsightsConnectionString: string | undefined;
  /** AI_PRICES; empty (no costs) when unset. */
  prices: PriceTable;
}

/** Per-caller token limits (src/caller-limits/, docs/caller-limits.md). */
export interface CallerLimitsConfig {
  table: CallerLimitsTable;
  /** Where the counts live: each instance's memory, or a blob all instances share. */
  store: "memory" | "storage";
}

export interface Config {
  openai: OpenAIConfig;
  metrics: MetricsConfig;
  callerLimits: CallerLimitsConfig;
  storage: StorageConfig;
  http: {
    authLevel: HttpAuthLevel;
    maxRequestBytes: number;
    maxAudioBytes: number;
    streamIdleTimeoutInMs: number;
    /** How callers are named for metrics and per-caller limits (src/http/caller.ts). */
    callers: CallerConfig;
  };
  audio: { container: string; transcriptsContainer: string; triggerSource: BlobTriggerSource };
  transcription: { maxConcurrency: number; maxChunkBytes: number; claimTtlInMs: number; throttleBudgetInMs: number };
  speech: { queue: string; container: string };
  images: { queue: string; container: string };
  embeddings: {
    queue: string;
    container: string;
    maxInputsPerRequest: number;
    maxTokensPerRequest: number;
    maxWaitInMs: number;
    chunkTokens: number;
    chunkOverlapTokens: number;
    throttleBudgetInMs: number;
  };
}

export interface SettingInfo {
  name: string;
  required: boolean;
  defaultValue?: string;
  description: string;
}

/** Every setting the app reads, for docs and for the Bicep consistency tests. */
export const SETTINGS: readonly SettingInfo[] = [
  { name: "AZURE_OPENAI_ENDPOINT", required: true, description: "Azure OpenAI endpoint, e.g. https://NAME.openai.azure.com" },
  {
    name: "AZURE_OPENAI_API_STYLE",
    required: false,
    defaultValue: "v1",
    description: "`v1` (/openai/v1/) or `dated` (/openai/deployments/...?api-version=)",
  },
  { name: "AZURE_OPENAI_API_VERSION", required: false, defaultValue: "2024-10-21", description: "api-version for the dated style" },
  { name: "AZURE_OPENAI_API_KEY", required: false, description: "API key; when absent, Entra ID (managed identity) is used" },
  { name: "AZURE_CLIENT_ID", required: false, description: "Client id of the user-assigned managed identity" },
  { name: "AZURE_OPENAI_CHAT_DEPLOYMENT", required: false, defaultValue: "gpt-4o-mini", description: "Chat deployment" },
  {
    name: "AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT",
    required: false,
    defaultValue: "text-embedding-3-small",
    description: "Embeddings deployment",
  },
  { name: "AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT", required: false, defaultValue: "whisper", description: "Whisper deployment" },
  {
    name: "AZURE_OPENAI_SPEECH_DEPLOYMENT",
    required: false,
    defaultValue: "gpt-4o-mini-tts",
    description: "Text-to-speech deployment; set it empty to turn speech off",
  },
  {
    name: "AZURE_OPENAI_IMAGES_DEPLOYMENT",
    required: false,
    defaultValue: "gpt-image-1",
    description: "Image generation deployment; set it empty to turn images off",
  },
  {
    name: "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT",
    required: false,
    description: "Legacy completions deployment (e.g. gpt-35-turbo-instruct); /api/v1/completions answers 404 model_not_found while unset",
  },
  {
    name: "AZURE_OPENAI_DEPLOYMENTS",
    required: false,
    description:
      "Routing table: per model name callers send, its backends (deployment, endpoint, capabilities, priority, weight); JSON, or a path to a JSON file in the app (docs/routing.md). Unset: one backend per *_DEPLOYMENT setting above, which otherwise name each capability's default model",
  },
  {
    name: "AZURE_OPENAI_CIRCUIT_FAILURES",
    required: false,
    defaultValue: "3",
    description: "Consecutive failures (5xx, no connection, timeout) after which a backend is passed over",
  },
  {
    name: "AZURE_OPENAI_CIRCUIT_BREAK_MS",
    required: false,
    defaultValue: "1000",
    description:
      "How long a failing backend is first passed over before one request probes it; doubled after each failed probe, up to 60 s",
  },
  { name: "AZURE_OPENAI_TIMEOUT_MS", required: false, defaultValue: "60000", description: "Timeout of one Azure OpenAI request" },
  {
    name: "AZURE_OPENAI_MAX_RETRIES",
    required: false,
    defaultValue: "2",
    description:
      "Extra attempts the queue and blob pipelines make after a transient failure (5xx, timeout, lost connection), within one invocation, waiting 0.5 s, 1 s, ...; HTTP callers get failures at once and retry themselves",
  },
  // Storage: one of two forms is required, exactly as the Functions host reads it.
  {
    name: "AzureWebJobsStorage",
    required: false,
    description: "Storage connection string (`UseDevelopmentStorage=true` for Azurite); or the identity form below",
  },
  {
    name: "AzureWebJobsStorage__blobServiceUri",
    required: false,
    description: "Identity form: blob endpoint, e.g. https://ACCOUNT.blob.core.windows.net",
  },
  {
    name: "AzureWebJobsStorage__queueServiceUri",
    required: false,
    description: "Identity form: queue endpoint, e.g. https://ACCOUNT.queue.core.windows.net",
  },
  { name: "AzureWebJobsStorage__credential", required: false, description: "Identity form: `managedidentity`" },
  { name: "AzureWebJobsStorage__clientId", required: false, description: "Identity form: client id of the user-assigned identity" },
  { name: "AUDIO_CONTAINER", required: false, defaultValue: "audio", description: "Container watched for audio" },
  {
    name: "TRANSCRIPTS_CONTAINER",
    required: false,
    defaultValue: "transcripts",
    description: "Container for transcripts and status records",
  },
  {
    name: "AUDIO_BLOB_TRIGGER_SOURCE",
    required: false,
    defaultValue: "LogsAndContainerScan",
    description: "`LogsAndContainerScan` or `EventGrid` (Flex Consumption needs EventGrid)",
  },
  { name: "EMBEDDINGS_QUEUE", required: false, defaultValue: "embeddings", description: "Queue of texts to embed" },
  {
    name: "EMBEDDINGS_CONTAINER",
    required: false,
    defaultValue: "embeddings",
    description: "Container for embeddings results and error records",
  },
  { name: "SPEECH_QUEUE", required: false, defaultValue: "speech", description: "Queue of texts to speak" },
  {
    name: "SPEECH_CONTAINER",
    required: false,
    defaultValue: "speech",
    description: "Container for speech audio, its records and error records",
  },
  { name: "IMAGES_QUEUE", required: false, defaultValue: "images", description: "Queue of image prompts" },
  {
    name: "IMAGES_CONTAINER",
    required: false,
    defaultValue: "images",
    description: "Container for generated images, their records and error records",
  },
  { name: "HTTP_AUTH_LEVEL", required: false, defaultValue: "function", description: "`function` (keys required) or `anonymous`" },
  { name: "HTTP_MAX_REQUEST_BYTES", required: false, defaultValue: "1048576", description: "Largest accepted HTTP request body" },
  {
    name: "CALLER_NAMES",
    required: false,
    description:
      'Names for function keys in metrics and per-caller limits: JSON {"caller-name": "key fingerprint"}, the fingerprint being the first 12 hex digits of the key\'s SHA-256; unnamed keys are `key-<fingerprint>`',
  },
  {
    name: "CALLER_TOKEN_LIMITS",
    required: false,
    description:
      'Per-caller token limits: JSON (or a path to a JSON file in the app) of caller name or `default` to `tokensPerMinute` and/or `tokensPerDay`, e.g. `{"default": {"tokensPerMinute": 50000}}`; over a limit, 429 with Retry-After (docs/caller-limits.md). Unset: no limits',
  },
  {
    name: "CALLER_LIMITS_STORE",
    required: false,
    defaultValue: "memory",
    description:
      "Where per-caller token counts live: `memory` (each instance counts alone: N instances allow up to N times a limit) or `storage` (one blob per caller and day in the `caller-limits` container, shared by every instance, with conditional writes)",
  },
  {
    name: "HTTP_STREAM_IDLE_TIMEOUT_MS",
    required: false,
    defaultValue: "60000",
    description: "Longest silence between two chunks of a streamed answer before it ends with an error event",
  },
  {
    name: "HTTP_MAX_AUDIO_BYTES",
    required: false,
    defaultValue: "209715200",
    description:
      "Largest multipart upload: audio to /api/v1/audio/transcriptions and /translations (200 MiB; split for Azure's 25 MB limit), images to /api/v1/images/edits",
  },
  {
    name: "EMBEDDINGS_MAX_INPUTS_PER_REQUEST",
    required: false,
    defaultValue: "2048",
    description: "Inputs per embeddings request (16 for text-embedding-ada-002)",
  },
  { name: "EMBEDDINGS_MAX_TOKENS_PER_REQUEST", required: false, defaultValue: "300000", description: "Tokens per embeddings request" },
  { name: "EMBEDDINGS_MAX_WAIT_MS", required: false, defaultValue: "20", description: "How long the batcher waits to fill a request" },
  { name: "EMBEDDINGS_CHUNK_TOKENS", required: false, defaultValue: "8191", description: "Largest chunk of one input, in tokens" },
  { name: "EMBEDDINGS_CHUNK_OVERLAP_TOKENS", required: false, defaultValue: "0", description: "Tokens shared by neighbouring chunks" },
  {
    name: "EMBEDDINGS_THROTTLE_BUDGET_MS",
    required: false,
    defaultValue: "60000",
    description: "How long one invocation waits out throttling before handing the message back",
  },
  { name: "TRANSCRIPTION_MAX_CONCURRENCY", required: false, defaultValue: "4", description: "Chunks of one file transcribed at once" },
  {
    name: "TRANSCRIPTION_MAX_CHUNK_BYTES",
    required: false,
    defaultValue: "25000000",
    description: "Largest upload to Whisper (Azure's limit is 25 MB)",
  },
  {
    name: "TRANSCRIPTION_CLAIM_TTL_MS",
    required: false,
    defaultValue: "60000",
    description: "How long a run's claim on a blob version holds without a heartbeat",
  },
  {
    name: "TRANSCRIPTION_THROTTLE_BUDGET_MS",
    required: false,
    defaultValue: "120000",
    description: "How long one chunk waits out throttling (429) within an invocation before the blob is left for the host to deliver again",
  },
  // Metrics (src/metrics/, docs/metrics.md).
  {
    name: "METRICS_EXPORT",
    required: false,
    defaultValue: "auto",
    description:
      "Where metrics go: `azure-monitor` (Application Insights, Entra ID auth), `otlp` (OTEL_EXPORTER_OTLP_ENDPOINT), `console` (a summary every METRICS_CONSOLE_INTERVAL_MS), `off`; `auto`: azure-monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else otlp when OTEL_EXPORTER_OTLP_ENDPOINT is, else off",
  },
  {
    name: "METRICS_CONSOLE_INTERVAL_MS",
    required: false,
    defaultValue: "10000",
    description: "How often METRICS_EXPORT=console prints its summary of tokens and cost by caller and model",
  },
  {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    required: false,
    description: "OTLP/HTTP receiver for METRICS_EXPORT=otlp, e.g. http://localhost:4318 (metrics go to /v1/metrics under it)",
  },
  {
    name: "APPLICATIONINSIGHTS_CONNECTION_STRING",
    required: false,
    description:
      "Application Insights the metrics go to (METRICS_EXPORT=azure-monitor or auto), with the managed identity's Entra ID token",
  },
  {
    name: "AI_PRICES",
    required: false,
    description:
      "Price table for estimated cost: currency, and per model per 1M tokens (input, cached input, output), per audio minute, per image, per 1M characters; JSON or a path to a JSON file in the app (docs/metrics.md). Unset: no cost",
  },
];

const DEFAULTS = Object.fromEntries(SETTINGS.filter((s) => s.defaultValue !== undefined).map((s) => [s.name, s.defaultValue as string]));

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates every setting.
 * @throws ConfigurationError listing every missing or malformed setting with how to fix it.
 */
export function loadConfig(env: Env): Config {
  const reader = new SettingsReader(env);
  const authLevel = reader.read("HTTP_AUTH_LEVEL", oneOf(["function", "anonymous"] as const));
  const config: Config = {
    openai: readOpenAI(reader),
    metrics: readMetrics(reader),
    callerLimits: readCallerLimits(reader),
    storage: readStorage(reader),
    http: {
      authLevel,
      maxRequestBytes: reader.read("HTTP_MAX_REQUEST_BYTES", integer(1024, 100 * 1024 * 1024)),
      maxAudioBytes: reader.read("HTTP_MAX_AUDIO_BYTES", integer(1024, 2 * 1024 * 1024 * 1024)),
      // Under Azure's front end, which closes a response idle for 230 s, so the caller gets the error event.
      streamIdleTimeoutInMs: reader.read("HTTP_STREAM_IDLE_TIMEOUT_MS", integer(100, 220_000)),
      callers: readCallers(reader, authLevel),
    },
    audio: {
      container: reader.read("AUDIO_CONTAINER", parseContainerName),
      transcriptsContainer: reader.read("TRANSCRIPTS_CONTAINER", parseContainerName),
      triggerSource: reader.read("AUDIO_BLOB_TRIGGER_SOURCE", oneOf(["LogsAndContainerScan", "EventGrid"] as const)),
    },
    transcription: {
      maxConcurrency: reader.read("TRANSCRIPTION_MAX_CONCURRENCY", integer(1, 64)),
      maxChunkBytes: reader.read("TRANSCRIPTION_MAX_CHUNK_BYTES", integer(64 * 1024, 25_000_000)),
      claimTtlInMs: reader.read("TRANSCRIPTION_CLAIM_TTL_MS", integer(1000, 600_000)),
      throttleBudgetInMs: reader.read("TRANSCRIPTION_THROTTLE_BUDGET_MS", integer(0, 3_600_000)),
    },
    speech: { queue: reader.read("SPEECH_QUEUE", parseQueueName), container: reader.read("SPEECH_CONTAINER", parseContainerName) },
    images: { queue: reader.read("IMAGES_QUEUE", parseQueueName), container: reader.read("IMAGES_CONTAINER", parseContainerName) },
    embeddings: {
      queue: reader.read("EMBEDDINGS_QUEUE", parseQueueName),
      container: reader.read("EMBEDDINGS_CONTAINER", parseContainerName),
      maxInputsPerRequest: reader.read("EMBEDDINGS_MAX_INPUTS_PER_REQUEST", integer(1, 2048)),
      maxTokensPerRequest: reader.read("EMBEDDINGS_MAX_TOKENS_PER_REQUEST", integer(1, 10_000_000)),
      maxWaitInMs: reader.read("EMBEDDINGS_MAX_WAIT_MS", integer(0, 10_000)),
      chunkTokens: reader.read("EMBEDDINGS_CHUNK_TOKENS", integer(16, 8191)),
      chunkOverlapTokens: reader.read("EMBEDDINGS_CHUNK_OVERLAP_TOKENS", integer(0, 4096)),
      throttleBudgetInMs: reader.read("EMBEDDINGS_THROTTLE_BUDGET_MS", integer(0, 3_600_000)),
    },
  };
  if (config.embeddings.chunkOverlapTokens >= config.embeddings.chunkTokens) {
    reader.problem(
      "EMBEDDINGS_CHUNK_OVERLAP_TOKENS",
      `must be smaller than EMBEDDINGS_CHUNK_TOKENS (${config.embeddings.chunkTokens}); lower the overlap`,
    );
  }
  reader.throwIfProblems();
  return config;
}

/**
 * The Azure OpenAI settings. With AZURE_OPENAI_DEPLOYMENTS, the table names the backends and the
 * *_DEPLOYMENT settings, when set, pick each capability's default model from it; without it, each
 * *_DEPLOYMENT setting is a one-backend model on AZURE_OPENAI_ENDPOINT, as before routing existed.
 */
function readOpenAI(reader: SettingsReader): OpenAIConfig {
  const tableSetting = reader.optional("AZURE_OPENAI_DEPLOYMENTS");
  const endpoint =
    tableSetting === undefined
      ? reader.read("AZURE_OPENAI_ENDPOINT", parseOpenAIEndpoint)
      : reader.readOptional("AZURE_OPENAI_ENDPOINT", parseOpenAIEndpoint);
  const common = {
    apiStyle: reader.read("AZURE_OPENAI_API_STYLE", oneOf(["v1", "dated"] as const)),
    apiVersion: reader.read("AZURE_OPENAI_API_VERSION", parseApiVersion),
    apiKey: reader.optional("AZURE_OPENAI_API_KEY"),
    clientId: reader.optional("AZURE_CLIENT_ID"),
    timeoutInMs: reader.read("AZURE_OPENAI_TIMEOUT_MS", integer(1000, 3_600_000)),
    maxRetries: reader.read("AZURE_OPENAI_MAX_RETRIES", integer(0, 10)),
    managedIdentityAvailable: Boolean(reader.optional("IDENTITY_ENDPOINT") ?? reader.optional("MSI_ENDPOINT")),
  };
  const circuit = {
    circuitFailures: reader.read("AZURE_OPENAI_CIRCUIT_FAILURES", integer(1, 100)),
    circuitBreakInMs: reader.read("AZURE_OPENAI_CIRCUIT_BREAK_MS", integer(100, 3_600_000)),
  };
  const defaults = { endpoint, apiStyle: common.apiStyle, apiVersion: common.apiVersion, apiKey: common.apiKey };

  if (tableSetting === undefined) {
    const deployments = {
      chat: reader.read("AZURE_OPENAI_CHAT_DEPLOYMENT", parseDeploymentName),
      embeddings: reader.read("AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT", parseDeploymentName),
      transcription: reader.read("AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT", parseDeploymentName),
      speech: reader.readUnlessTurnedOff("AZURE_OPENAI_SPEECH_DEPLOYMENT", parseDeploymentName),
      images: reader.readUnlessTurnedOff("AZURE_OPENAI_IMAGES_DEPLOYMENT", parseDeploymentName),
      completions: reader.readOptional("AZURE_OPENAI_COMPLETIONS_DEPLOYMENT", parseDeploymentName),
    };
    const table = singleEndpointTable({ ...defaults, endpoint: endpoint ?? "" }, { ...deployments, responses: deployments.chat });
    return { ...common, endpoint: endpoint ?? "", deployments, routing: { table, ...circuit } };
  }

  let json: string;
  try {
    json = readTableJson(tableSetting);
  } catch (error) {
    reader.problem("AZURE_OPENAI_DEPLOYMENTS", (error as Error).message);
    json = "{}";
  }
  const { table, problems } = parseRoutingTable(json, {
    defaults,
    parseEndpoint: parseOpenAIEndpoint,
    isServedApiVersion,
    setting: (name) => reader.optional(name),
  });
  for (const problem of problems) reader.problem("AZURE_OPENAI_DEPLOYMENTS", problem);
  const checkTable = problems.length === 0;
  /** A capability's default model: the setting when set (it must be in the table), else the first model serving it. */
  const defaultModel = (setting: string, capability: Capability, required: boolean): string | undefined => {
    const raw = reader.env[setting];
    if (raw !== undefined && raw.trim() === "" && !required) return undefined;
    const serving = modelsServing(table, capability);
    const named = reader.optional(setting);
    if (named !== undefined) {
      if (checkTable && !serving.includes(named)) {
        reader.problem(
          setting,
          `names the model "${named}", which AZURE_OPENAI_DEPLOYMENTS does not list for ${capability}; use one of ${serving.map((m) => `"${m}"`).join(", ") || "(none: add a backend with this capability)"}`,
        );
      }
      return named;
    }
    if (serving[0] === undefined && required && checkTable) {
      reader.problem(
        "AZURE_OPENAI_DEPLOYMENTS",
        `lists no model for ${capability}, which the app needs; add a backend with "capabilities": ["${capability}"]`,
      );
    }
    return serving[0];
  };
  const deployments = {
    chat: defaultModel("AZURE_OPENAI_CHAT_DEPLOYMENT", "chat", true) as string,
    embeddings: defaultModel("AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT", "embeddings", true) as string,
    transcription: defaultModel("AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT", "transcription", true) as string,
    speech: defaultModel("AZURE_OPENAI_SPEECH_DEPLOYMENT", "speech", false),
    images: defaultModel("AZURE_OPENAI_IMAGES_DEPLOYMENT", "images", false),
    completions: defaultModel("AZURE_OPENAI_COMPLETIONS_DEPLOYMENT", "completions", false),
  };
  // A key belongs to one resource: AZURE_OPENAI_API_KEY only ever goes to AZURE_OPENAI_ENDPOINT's backends.
  const onDefaultEndpoint = [...table.models.values()].some((backends) => backends.some((b) => b.endpoint === endpoint));
  if (common.apiKey !== undefined && checkTable && !onDefaultEndpoint) {
    reader.problem(
      "AZURE_OPENAI_API_KEY",
      "is set, but no backend in AZURE_OPENAI_DEPLOYMENTS is on AZURE_OPENAI_ENDPOINT, the resource the key belongs to; name the key's setting in its backend's apiKeySetting, or remove it to use Entra ID",
    );
  }
  // Without AZURE_OPENAI_ENDPOINT, the first backend's resource stands for "the" endpoint (logs), without the key.
  const primary = endpoint ?? [...table.models.values()][0]?.[0]?.endpoint ?? "";
  return {
    ...common,
    apiKey: endpoint === undefined ? undefined : common.apiKey,
    endpoint: primary,
    deployments,
    routing: { table, ...circuit },
  };
}

/** The metrics settings: `auto` becomes the exporter whose setting is there, else off. */
function readMetrics(reader: SettingsReader): MetricsConfig {
  const chosen = reader.read("METRICS_EXPORT", oneOf(["auto", "azure-monitor", "otlp", "console", "off"] as const));
  const connectionString = reader.optional("APPLICATIONINSIGHTS_CONNECTION_STRING");
  const otlpEndpoint = reader.readOptional("OTEL_EXPORTER_OTLP_ENDPOINT", parseOtlpEndpoint);
  const exported: MetricsExport =
    chosen === "auto" ? (connectionString ? "azure-monitor" : otlpEndpoint ? "otlp" : "off") : (chosen ?? "off");
  if (exported === "azure-monitor" && !connectionString) {
    reader.problem(
      "APPLICATIONINSIGHTS_CONNECTION_STRING",
      "is missing, and METRICS_EXPORT is azure-monitor; set it to the Application Insights resource's connection string (the Bicep in infra/ does), or choose another METRICS_EXPORT",
    );
  }
  if (connectionString && !/InstrumentationKey=/i.test(connectionString)) {
    reader.problem(
      "APPLICATIONINSIGHTS_CONNECTION_STRING",
      "is not an Application Insights connection string (it has no InstrumentationKey=); copy it from the resource's Overview page",
    );
  }
  if (exported === "otlp" && !otlpEndpoint && reader.optional("OTEL_EXPORTER_OTLP_ENDPOINT") === undefined) {
    reader.problem("OTEL_EXPORTER_OTLP_ENDPOINT", "is missing, and METRICS_EXPORT is otlp; set it, e.g. http://localhost:4318");
  }
  let prices = EMPTY_PRICE_TABLE;
  const pricesSetting = reader.optional("AI_PRICES");
  if (pricesSetting !== undefined) {
    try {
      const parsed = parsePriceTable(readTableJson(pricesSetting));
      for (const problem of parsed.problems) reader.problem("AI_PRICES", problem);
      prices = parsed.table;
    } catch (error) {
      reader.problem("AI_PRICES", (error as Error).message);
    }
  }
  return {
    export: exported,
    consoleIntervalInMs: reader.read("METRICS_CONSOLE_INTERVAL_MS", integer(1000, 3_600_000)),
    otlpEndpoint,
    applicationInsightsConnectionString: connectionString,
    prices,
  };
}

/** An OTLP/HTTP base URL, without a trailing slash. */
function parseOtlpEndpoint(raw: string): string {
  if (!isHttpUrl(raw)) throw new Error(`is not an http(s) URL (got "${raw}"); e.g. http://localhost:4318`);
  return raw.replace(/\/+$/, "");
}

function readCallerLimits(reader: SettingsReader): CallerLimitsConfig {
  const store = reader.read("CALLER_LIMITS_STORE", oneOf(["memory", "storage"] as const));
  const setting = reader.optional("CALLER_TOKEN_LIMITS");
  if (setting === undefined) return { table: { default: undefined, byCaller: new Map() }, store };
  let json: string;
  try {
    json = readTableJson(setting);
  } catch (error) {
    reader.problem("CALLER_TOKEN_LIMITS", (error as Error).message);
    json = "{}";
  }
  const { table, problems } = parseCallerLimits(json);
  for (const problem of problems) reader.problem("CALLER_TOKEN_LIMITS", problem);
  return { table, store };
}

/** Every secret value in the Azure OpenAI settings (AZURE_OPENAI_API_KEY, the table's keys), to mask in logs and errors. */
export function openAISecrets(openai: OpenAIConfig): string[] {
  return [...new Set([...(openai.apiKey ? [openai.apiKey] : []), ...tableSecrets(openai.routing.table)])];
}

/**
 * The folder the app is deployed from (host.json's), which a relative AZURE_OPENAI_DEPLOYMENTS (or CALLER_TOKEN_LIMITS) path
 * starts from: found by walking up from this module, which sits at a different depth in the tsc
 * build (dist/src/) and in the deployment package (dist/main.js).
 */
function appRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "host.json"))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/**
 * A table's JSON (AZURE_OPENAI_DEPLOYMENTS, AI_PRICES): the setting itself, or the file it names.
 * @throws Error saying which file could not be read, for the settings check.
 */
function readTableJson(value: string): string {
  if (value.startsWith("{") || value.startsWith("[")) return value;
  const file = path.resolve(appRoot(), value);
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(
      `names the file ${file}, which cannot be read (${reason}); give the table as JSON, or a path relative to the app's folder`,
    );
  }
}

/** A parser returns the value, or throws Error whose message says what is wrong and how to fix it. */
type Parser<T> = (raw: string) => T;

class SettingsReader {
  private readonly problems: string[] = [];
  constructor(readonly env: Env) {}

  /** The trimmed value, or undefined when unset or blank. */
  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  read<T>(name: string, parse: Parser<T>): T {
    const raw = this.optional(name) ?? DEFAULTS[name];
    if (raw === undefined) {
      this.problem(name, "is missing; set it in local.settings.json (Values) locally or in the app settings in Azure");
      return undefined as T; // only reached when throwIfProblems() will throw
    }
    try {
      return parse(raw);
    } catch (error) {
      this.problem(name, (error as Error).message);
      return undefined as T;
    }
  }

  /**
   * Like read, for a capability that can be turned off: unset means the default, present but blank
   * (an app setting left empty, as the Bicep leaves it for a model it does not deploy) means off.
   */
  readUnlessTurnedOff<T>(name: string, parse: Parser<T>): T | undefined {
    const raw = this.env[name];
    return raw !== undefined && raw.trim() === "" ? undefined : this.read(name, parse);
  }

  /** Like read, for a setting with no default: undefined when unset or blank. */
  readOptional<T>(name: string, parse: Parser<T>): T | undefined {
    return this.optional(name) === undefined ? undefined : this.read(name, parse);
  }

  problem(name: string, message: string): void {
    this.problems.push(`${name} ${message}`);
  }

  throwIfProblems(): void {
    if (this.problems.length > 0) throw new ConfigurationError(this.problems);
  }
}

function readCallers(reader: SettingsReader, authLevel: HttpAuthLevel): CallerConfig {
  const raw = reader.optional("CALLER_NAMES");
  const { keyNames, problems } = raw === undefined ? { keyNames: new Map<string, string>(), problems: [] } : parseCallerKeyNames(raw);
  for (const problem of problems) reader.problem("CALLER_NAMES", problem);
  return {
    authLevel,
    keyNames,
    // Set by App Service when its authentication (Easy Auth) is on; only then are principal headers trustworthy.
    easyAuth: reader.optional("WEBSITE_AUTH_ENABLED")?.toLowerCase() === "true",
  };
}

function readStorage(reader: SettingsReader): StorageConfig {
  const connectionString = reader.optional("AzureWebJobsStorage");
  const blobServiceUri = reader.optional("AzureWebJobsStorage__blobServiceUri");
  const queueServiceUri = reader.optional("AzureWebJobsStorage__queueServiceUri");
  const accountName = reader.optional("AzureWebJobsStorage__accountName");
  const clientId = reader.optional("AzureWebJobsStorage__clientId");
  if (connectionString) {
    if (!/UseDevelopmentStorage=true|AccountName=|BlobEndpoint=|SharedAccessSignature=/i.test(connectionString)) {
      reader.problem(
        "AzureWebJobsStorage",
        "is not a storage connection string; use `UseDevelopmentStorage=true` for Azurite, an account connection string, or the AzureWebJobsStorage__blobServiceUri/__queueServiceUri identity form",
      );
    }
    return { kind: "connectionString", connectionString };
  }
  if (blobServiceUri || queueServiceUri || accountName) {
    const blob = blobServiceUri ?? (accountName && `https://${accountName}.blob.core.windows.net`);
    const queue = queueServiceUri ?? (accountName && `https://${accountName}.queue.core.windows.net`);
    if (!blob)
      reader.problem(
        "AzureWebJobsStorage__blobServiceUri",
        "is missing: the identity-based storage form needs both service URIs (or AzureWebJobsStorage__accountName)",
      );
    if (!queue)
      reader.problem(
        "AzureWebJobsStorage__queueServiceUri",
        "is missing: the identity-based storage form needs both service URIs (or AzureWebJobsStorage__accountName)",
      );
    for (const [name, value] of [
      ["AzureWebJobsStorage__blobServiceUri", blob],
      ["AzureWebJobsStorage__queueServiceUri", queue],
    ] as const) {
      if (value && !isHttpUrl(value))
        reader.problem(name, `is not a URL (got "${value}"); expected e.g. https://ACCOUNT.blob.core.windows.net`);
    }
    return { kind: "identity", blobServiceUri: blob || "", queueServiceUri: queue || "", clientId };
  }
  reader.problem(
    "AzureWebJobsStorage",
    "is missing; set it to `UseDevelopmentStorage=true` for Azurite, to a connection string, or use AzureWebJobsStorage__blobServiceUri and AzureWebJobsStorage__queueServiceUri with a managed identity",
  );
  return { kind: "connectionString", connectionString: "" };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Accepts the resource endpoint in the forms the portal and SDK samples show, including a pasted
 * v1 base URL, and returns it bare so both API styles can build their own paths from it.
 */
export function parseOpenAIEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`is not a URL (got "${raw}"); expected e.g. https://NAME.openai.azure.com`);
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error(`must use https (got "${url.protocol}//${url.host}"); plain http is accepted only for a local simulator on localhost`);
  }
  if (url.search || url.hash) {
    throw new Error("must not carry a query string or fragment; give only the resource endpoint, e.g. https://NAME.openai.azure.com");
  }
  if (url.username || url.password) {
    throw new Error("must not contain credentials; use AZURE_OPENAI_API_KEY or a managed identity");
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (path !== "" && !/^\/openai(\/v1)?$/i.test(path)) {
    throw new Error(`has an unexpected path "${url.pathname}"; give only the resource endpoint, e.g. https://NAME.openai.azure.com`);
  }
  return `${url.protocol}//${url.host}`;
}

/** An api-version Azure OpenAI serves (src/openai/api-versions.ts); anything else would be refused by every dated call. */
function parseApiVersion(raw: string): string {
  if (!isServedApiVersion(raw)) {
    throw new Error(
      `is not an api-version Azure OpenAI serves (got "${raw}"); the nearest ones it serves: ${nearestApiVersions(raw).join(", ")}`,
    );
  }
  return raw;
}

function parseDeploymentName(raw: string): string {
  // Azure deployment names: letters, digits, '-', '_', '.'; at most 64 characters.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw)) {
    throw new Error(`is not a valid deployment name (got "${raw}"); use the name shown under Deployments in the Azure AI Foundry portal`);
  }
  return raw;
}

function parseContainerName(raw: string): string {
  if (!/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(raw)) {
    throw new Error(`is not a valid container name (got "${raw}"); use 3-63 lowercase letters, digits and single hyphens`);
  }
  return raw;
}

function parseQueueName(raw: string): string {
  if (!/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(raw)) {
    throw new Error(`is not a valid queue name (got "${raw}"); use 3-63 lowercase letters, digits and single hyphens`);
  }
  return raw;
}

function oneOf<const T extends string>(choices: readonly T[]): Parser<T> {
  return (raw) => {
    const match = choices.find((choice) => choice.toLowerCase() === raw.toLowerCase());
    if (!match) throw new Error(`must be one of ${choices.map((c) => `"${c}"`).join(", ")} (got "${raw}")`);
    return match;
  };
}

function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`must be a whole number from ${min} to ${max} (got "${raw}")`);
    }
    return value;
  };
}

let processConfig: Config | undefined;

/**
 * The process's configuration, read from process.env on first use and fixed afterwards
 * (settings change only with a restart, as on Azure).
 * @throws ConfigurationError listing every problem.
 */
export function getProcessConfig(): Config {
  processConfig ??= loadConfig(process.env);
  return processConfig;
}

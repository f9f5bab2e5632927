/**
 * The host.json settings the local host honours (route prefix, request limits, queue and blob
 * extension settings, function timeout), read with the Functions host's defaults and checked, so
 * the app's own host.json drives local runs as it drives Azure, and a bad value fails at start.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** The host.json settings the local host honours, with the storage extension's defaults filled in. */
export interface HostConfig {
  /** Concurrency limits: `undefined` = unbounded (the host's -1 default outside Consumption). */
  http: { routePrefix: string; maxRequestBodyBytes: number; maxConcurrentRequests?: number; maxOutstandingRequests?: number };
  queues: {
    batchSize: number;
    newBatchThreshold: number;
    maxPollingIntervalMs: number;
    visibilityTimeoutMs: number;
    maxDequeueCount: number;
    messageEncoding: "base64" | "none";
  };
  blobs: { maxDegreeOfParallelism: number; poisonBlobThreshold: number };
  functionTimeoutMs: number | undefined;
}

/** Kestrel limit the Functions host configures for request bodies (100 MB). */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 104_857_600;
/**
 * The real default maxPollingInterval is 1 minute; locally the backoff tops out at 2 s so a
 * message sent after a quiet spell is picked up quickly (the "100 ms to 2 s locally").
 */
export const LOCAL_MAX_POLLING_INTERVAL_MS = 2_000;

/**
 * Reads host.json (missing file = all defaults).
 * @throws Error when the file exists but is not valid JSON, or a value has the wrong form.
 */
export function loadHostConfig(hostJsonPath: string | undefined): HostConfig {
  let raw: Record<string, unknown> = {};
  if (hostJsonPath) {
    let text: string | undefined;
    try {
      text = readFileSync(hostJsonPath, "utf8");
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        raw = JSON.parse(text) as Record<string, unknown>;
      } catch (error) {
        throw new Error(`host.json at ${hostJsonPath} is not valid JSON: ${(error as Error).message}`);
      }
    }
  }
  const extensions = asObject(raw.extensions);
  const http = asObject(extensions.http);
  const queues = asObject(extensions.queues);
  const blobs = asObject(extensions.blobs);

  const batchSize = clamp(numberOr(queues.batchSize, 16), 1, 32, "extensions.queues.batchSize");
  const encoding = String(queues.messageEncoding ?? "base64").toLowerCase();
  if (encoding !== "base64" && encoding !== "none") {
    throw new Error(`host.json extensions.queues.messageEncoding must be "base64" or "none", got "${encoding}".`);
  }
  return {
    http: {
      routePrefix: typeof http.routePrefix === "string" ? http.routePrefix.replace(/^\/+|\/+$/g, "") : "api",
      maxRequestBodyBytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
      ...positiveOrNothing("maxConcurrentRequests", http.maxConcurrentRequests),
      ...positiveOrNothing("maxOutstandingRequests", http.maxOutstandingRequests),
    },
    queues: {
      batchSize,
      newBatchThreshold: numberOr(queues.newBatchThreshold, Math.floor(batchSize / 2)),
      maxPollingIntervalMs: timeSpanOr(queues.maxPollingInterval, LOCAL_MAX_POLLING_INTERVAL_MS, "maxPollingInterval"),
      visibilityTimeoutMs: timeSpanOr(queues.visibilityTimeout, 0, "visibilityTimeout"),
      maxDequeueCount: numberOr(queues.maxDequeueCount, 5),
      messageEncoding: encoding,
    },
    blobs: {
      // The blobs extension's default: 8 per core.
      maxDegreeOfParallelism: numberOr(blobs.maxDegreeOfParallelism, 8 * availableParallelism()),
      poisonBlobThreshold: numberOr(blobs.poisonBlobThreshold, 5),
    },
    functionTimeoutMs: raw.functionTimeout === undefined ? undefined : timeSpanOr(raw.functionTimeout, 0, "functionTimeout"),
  };
}

/**
 * Parses a .NET TimeSpan string ("00:00:02", "1.02:03:04.5") into milliseconds.
 * @throws Error when the text is not a TimeSpan.
 */
export function parseTimeSpan(text: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a TimeSpan like "00:00:30" (hh:mm:ss).`);
  const [, days, hours, minutes, seconds, fraction] = match;
  const fractionMs = fraction ? Number(`0.${fraction}`) * 1000 : 0;
  return ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + fractionMs;
}

function timeSpanOr(value: unknown, fallback: number, name: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string") throw new Error(`host.json ${name} must be a TimeSpan string like "00:00:30".`);
  return parseTimeSpan(value);
}

function positiveOrNothing<K extends string>(key: K, value: unknown): Partial<Record<K, number>> {
  return typeof value === "number" && value > 0 ? ({ [key]: value } as Record<K, number>) : {};
}

function asObject(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function clamp(value: number, min: number, max: number, name: string): number {
  if (value < min || value > max) throw new Error(`host.json ${name} must be between ${min} and ${max}, got ${value}.`);
  return value;
}

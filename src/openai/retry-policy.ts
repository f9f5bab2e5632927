/**
 * The one retry policy of the queue and blob pipelines, built from the settings here and nowhere
 * else. The shared `openai` client never retries on its own (src/openai/client.ts sets its
 * `maxRetries` to 0): its retries would resend 429s the embeddings quota governor must hear of,
 * and cannot resend a streamed audio upload. HTTP callers get every failure at once and retry
 * themselves (the official clients do, honouring our Retry-After).
 *
 * Per unit of work (one embeddings request, one audio chunk) and delivery:
 * - transient (5xx, 408/409, timeout, lost connection): `1 + AZURE_OPENAI_MAX_RETRIES` attempts,
 *   waiting 0.5 s, 1 s, 2 s, ... (less up to a quarter, at random, so instances that failed
 *   together do not retry together);
 * - throttled (429): retried when Azure's Retry-After says, for up to the pipeline's throttle
 *   budget (EMBEDDINGS_THROTTLE_BUDGET_MS, TRANSCRIPTION_THROTTLE_BUDGET_MS; the speech and images
 *   queues share the embeddings queue's, being queue pipelines alike);
 * - anything else: 1 attempt.
 * The host then delivers a failed message or blob up to 5 times (host.json), which makes at most
 * 5 x (1 + AZURE_OPENAI_MAX_RETRIES) transient attempts (15 by default) per unit of work.
 *
 * HTTP audio (POST /api/v1/audio/transcriptions, /translations) sits in between (httpAudioRetryPolicy):
 * a file sent to Azure in one request gets one attempt, as every HTTP route (the caller retries);
 * a file split into chunks cannot be retried by the caller chunk by chunk, only whole, paying
 * again for the chunks that succeeded, so its chunks are retried like the blob pipeline's, within
 * a throttle budget small enough for an HTTP request (HTTP_AUDIO_THROTTLE_BUDGET_IN_MS).
 */
import type { Config } from "../config.js";
import type { AppError } from "../errors.js";

export interface RetryPolicy {
  /** Extra attempts after a transient failure, within one invocation (AZURE_OPENAI_MAX_RETRIES). */
  transientRetries: number;
  /** Wait before the first of them; each further one waits twice as long. */
  transientBackoffInMs: number;
  /** Longest time spent waiting out 429s for one unit of work before the trigger decides. */
  throttleBudgetInMs: number;
}

/** First transient backoff: openai-node's own initial delay, so our retries pace like the client's would. */
export const TRANSIENT_BACKOFF_IN_MS = 500;

/** The policy of one pipeline under this configuration. */
export function retryPolicy(config: Config, pipeline: "embeddings" | "transcription" | "speech" | "images"): RetryPolicy {
  return {
    transientRetries: config.openai.maxRetries,
    transientBackoffInMs: TRANSIENT_BACKOFF_IN_MS,
    throttleBudgetInMs: pipeline === "transcription" ? config.transcription.throttleBudgetInMs : config.embeddings.throttleBudgetInMs,
  };
}

/**
 * How long to wait before retrying after a failure, when the policy retries it in the invocation:
 * `failuresSoFar` transient failures of this unit of work came before this one.
 * @returns undefined when this failure is not retried here (it goes to the trigger's decision).
 */
export function transientRetryDelay(
  policy: Pick<RetryPolicy, "transientRetries" | "transientBackoffInMs">,
  error: AppError,
  failuresSoFar: number,
): number | undefined {
  if (error.kind !== "transient" || failuresSoFar >= policy.transientRetries) return undefined;
  const full = policy.transientBackoffInMs * 2 ** failuresSoFar;
  return Math.round(full * (1 - Math.random() * 0.25));
}

/**
 * Longest wait for throttling per chunk of a split HTTP upload: short beside the 230 s an Azure
 * front end keeps an HTTP request open, and beside the blob pipeline's budget, which has a whole
 * function timeout to spend. TRANSCRIPTION_THROTTLE_BUDGET_MS lowers it further (0: no waiting).
 */
export const HTTP_AUDIO_THROTTLE_BUDGET_IN_MS = 30_000;

/** The policy for one HTTP audio request whose file is sent to Azure in `chunkCount` requests (see above). */
export function httpAudioRetryPolicy(config: Config, chunkCount: number): RetryPolicy {
  if (chunkCount <= 1) return { transientRetries: 0, transientBackoffInMs: TRANSIENT_BACKOFF_IN_MS, throttleBudgetInMs: 0 };
  return {
    transientRetries: config.openai.maxRetries,
    transientBackoffInMs: TRANSIENT_BACKOFF_IN_MS,
    throttleBudgetInMs: Math.min(HTTP_AUDIO_THROTTLE_BUDGET_IN_MS, config.transcription.throttleBudgetInMs),
  };
}

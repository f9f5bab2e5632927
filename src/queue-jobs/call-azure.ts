/**
 * One Azure OpenAI call of a queue job (a speech part, an image request), logged and retried as
 * the retry policy says (src/openai/retry-policy.ts): 429s waited out as Retry-After asks within
 * the throttle budget, transient failures retried with backoff; anything else, or a failure past
 * those, goes to the trigger's decision (src/queue-jobs/run-job.ts).
 */
import { classifyError } from "../errors.js";
import type { Logger } from "../logging.js";
import { logFailedOpenAICall, logOpenAICall, upstreamRequestId } from "../openai/call-log.js";
import { transientRetryDelay, type RetryPolicy } from "../openai/retry-policy.js";
import { sleep } from "../transcription/run-limited.js";

export interface AzureCall<T> {
  /** For the call log: `audio.speech`, `images.generate`. */
  operation: string;
  deployment: string;
  /** For log lines: which unit of which job (`part 2/5 of speech book-1`). */
  where: string;
  /** Makes the request and reads the whole answer (a body cut off mid-way fails here, and is retried). */
  send: (signal: AbortSignal | undefined) => Promise<{ value: T; response: Response }>;
  signal?: AbortSignal | undefined;
}

/**
 * Runs `call.send` until it succeeds or the policy gives up.
 * @throws AppError (classified): `throttled` once the throttle budget is spent, `transient` after
 *   the retries, anything else at once.
 */
export async function callWithRetries<T>(call: AzureCall<T>, retry: RetryPolicy, logger: Logger): Promise<T> {
  // Wall-clock time since the first 429, so the budget counts the throttled requests themselves too.
  let firstThrottledAt: number | undefined;
  let transientFailures = 0;
  for (;;) {
    const started = performance.now();
    try {
      const { value, response } = await call.send(call.signal);
      logOpenAICall(logger, {
        operation: call.operation,
        deployment: call.deployment,
        latencyInMs: performance.now() - started,
        status: response.status,
        requestId: upstreamRequestId(response.headers),
      });
      return value;
    } catch (thrown) {
      const error = classifyError(thrown);
      logFailedOpenAICall(
        logger,
        { operation: call.operation, deployment: call.deployment, latencyInMs: performance.now() - started },
        error,
      );
      if (call.signal?.aborted) throw error;
      if (error.kind === "throttled") {
        const wait = error.retryAfterInMs ?? 1000;
        firstThrottledAt ??= Date.now();
        if (Date.now() - firstThrottledAt + wait <= retry.throttleBudgetInMs) {
          logger.warn(`Throttled on ${call.where}; retrying in ${wait} ms as Retry-After asks`);
          await sleep(wait, call.signal);
          continue;
        }
      }
      const backoff = transientRetryDelay(retry, error, transientFailures);
      if (backoff === undefined) throw error;
      transientFailures++;
      logger.warn(
        `Transient failure on ${call.where} (${error.message}); retry ${transientFailures} of ${retry.transientRetries} in ${backoff} ms`,
      );
      await sleep(backoff, call.signal);
    }
  }
}

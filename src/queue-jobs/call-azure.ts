/**
 * One Azure OpenAI call of a queue job (a speech part, an image request): each attempt goes
 * through the router (src/routing/), which sends it to a backend of the job's model and on to the
 * next when one throttles or fails; around that, the retry policy (src/openai/retry-policy.ts)
 * waits out 429s as Retry-After asks (or, when every backend is cooling down, until the soonest is
 * back) within the throttle budget, and retries transient failures with backoff. Anything else, or
 * a failure past those, goes to the trigger's decision (src/queue-jobs/run-job.ts).
 */
import { classifyError, type AppError } from "../errors.js";
import type { Logger } from "../logging.js";
import { logFailedOpenAICall, logOpenAICall, upstreamRequestId, type CallUsage } from "../openai/call-log.js";
import { transientRetryDelay, type RetryPolicy } from "../openai/retry-policy.js";
import { ALL_BACKENDS_UNAVAILABLE, type Backend, type Route, type Router, type Target } from "../routing/index.js";
import { sleep } from "../transcription/run-limited.js";
import { recordThrottleWait } from "../metrics/index.js";

export interface AzureCall<T> {
  /** For the call log: `audio.speech`, `images.generate`. */
  operation: string;
  /** For log lines: which unit of which job (`part 2/5 of speech book-1`). */
  where: string;
  /**
   * Makes the request to the target backend (`model`: its deployment) and reads the whole answer
   * (a body cut off mid-way fails here, and is retried), with what the answer says it used.
   */
  send: (target: Target, signal: AbortSignal | undefined) => Promise<{ value: T; response: Response; usage?: CallUsage }>;
  signal?: AbortSignal | undefined;
}

/** Where a job's calls go: the router, and the backends of the job's model; and who they are for (metrics). */
export interface JobRouting {
  router: Router;
  route: Route;
  /** `pipeline:<name>` for a queue or blob pipeline, the HTTP caller's name for an upload. */
  caller: string;
}

/**
 * Runs `call.send` until it succeeds or the policy gives up.
 * @returns the value, and the backend that answered.
 * @throws AppError (classified): `throttled` once the throttle budget is spent, `transient` after
 *   the retries, anything else at once.
 */
export function callWithRetries<T>(
  call: AzureCall<T>,
  routing: JobRouting,
  retry: RetryPolicy,
  logger: Logger,
): Promise<{ value: T; backend: Backend }> {
  return routedWithRetries(routing, { where: call.where, signal: call.signal }, retry, logger, (target) => attempt(call, target));
}

/**
 * The retry loop around the router for one unit of a pipeline's work (a speech part, an image
 * request, a chunk of audio): each round is one router.run over the model's backends; a round that
 * ends throttled (a 429, or every backend cooling down) waits as Azure asks, within the throttle
 * budget (0: no waiting); a transient one is retried with the policy's backoff.
 * @param tryBackend one request to one backend; its failures are what the router moves on after.
 * @throws AppError (classified) once the policy gives up. When it gives up because every backend
 *   is passed over for failing, the last failure a backend actually answered is thrown (it says
 *   what went wrong; the router's own error only says that the backends are failing).
 */
export async function routedWithRetries<T>(
  routing: JobRouting,
  unit: { where: string; signal?: AbortSignal | undefined },
  retry: RetryPolicy,
  logger: Logger,
  tryBackend: (target: Target) => Promise<T>,
): Promise<{ value: T; backend: Backend }> {
  // Wall-clock time since the first 429, so the budget counts the throttled requests themselves too.
  let firstThrottledAt: number | undefined;
  let transientFailures = 0;
  let lastAnswered: AppError | undefined;
  const options = { logger, caller: routing.caller, ...(unit.signal ? { signal: unit.signal } : {}) };
  for (;;) {
    try {
      return await routing.router.run(routing.route, options, async (target) => {
        try {
          return await tryBackend(target);
        } catch (error) {
          lastAnswered = classifyError(error);
          throw error;
        }
      });
    } catch (thrown) {
      const error = classifyError(thrown);
      if (unit.signal?.aborted) throw error;
      if (error.kind === "throttled") {
        const wait = error.retryAfterInMs ?? 1000;
        firstThrottledAt ??= Date.now();
        if (retry.throttleBudgetInMs > 0 && Date.now() - firstThrottledAt + wait <= retry.throttleBudgetInMs) {
          logger.warn(`Throttled on ${unit.where}; retrying in ${wait} ms as Retry-After asks`);
          recordThrottleWait(throttledAt(routing.route, error), wait);
          await sleep(wait, unit.signal);
          continue;
        }
      }
      const computed = transientRetryDelay(retry, error, transientFailures);
      // Every backend failing: waiting less than the soonest a circuit half-opens spends the retry on nothing.
      const backoff =
        computed !== undefined && error.code === ALL_BACKENDS_UNAVAILABLE ? Math.max(computed, error.retryAfterInMs ?? 0) : computed;
      if (backoff === undefined) {
        const circuitsOpen = error.code === ALL_BACKENDS_UNAVAILABLE && error.kind === "transient";
        throw circuitsOpen && lastAnswered ? lastAnswered : error;
      }
      transientFailures++;
      logger.warn(
        `Transient failure on ${unit.where} (${error.message}); retry ${transientFailures} of ${retry.transientRetries} in ${backoff} ms`,
      );
      await sleep(backoff, unit.signal);
    }
  }
}

/** Where a round that ended throttled was throttled: its one backend, else all of them (the router tried each, or none had room). */
function throttledAt(route: Route, error: AppError): { capability: Route["capability"]; model: string; backend: string } {
  const only = route.backends.length === 1 && error.code !== ALL_BACKENDS_UNAVAILABLE ? route.backends[0] : undefined;
  return { capability: route.capability, model: route.model, backend: only?.name ?? "all" };
}

/** One request to one backend, logged on the backend's logger. @throws the client's error. */
async function attempt<T>(call: AzureCall<T>, target: Target): Promise<T> {
  const started = performance.now();
  const deployment = target.backend.deployment;
  try {
    const { value, response, usage } = await call.send(target, call.signal);
    logOpenAICall(target.logger, {
      operation: call.operation,
      deployment,
      latencyInMs: performance.now() - started,
      status: response.status,
      ...usage,
      requestId: upstreamRequestId(response.headers),
    });
    return value;
  } catch (error) {
    logFailedOpenAICall(
      target.logger,
      { operation: call.operation, deployment, latencyInMs: performance.now() - started },
      classifyError(error),
    );
    throw error;
  }
}

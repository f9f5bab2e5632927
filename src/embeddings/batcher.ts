/**
 * Coalesces the embeddings work of every invocation running on this instance into few requests,
 * and spreads the requests over the backends of their model (src/routing/).
 *
 * Each caller submits its chunks and awaits their vectors. Chunks wait in a lane (one per model +
 * dimensions, since one request has one of each) until a request is full (`maxInputsPerRequest`
 * inputs or `maxTokensPerRequest` tokens) or the oldest has waited `maxWaitInMs`. The request then
 * goes to the first backend of the model, in the router's order (Router.order), whose
 * QuotaGovernor lets it go now: one governor per backend, since Azure's quota is per deployment.
 * Vectors are routed back to their callers by position, so one caller's chunks can span several
 * requests (and backends) and one request can serve many callers.
 *
 * Failures, by kind (see src/errors.ts):
 * - throttled: that backend's governor pauses for Azure's delay and the chunks go back to the
 *   front of their lane, from where they go out at once to another backend of the model that has
 *   room, or wait for the first to be back; a caller whose throttle deadline would pass first is
 *   failed with a `throttled` error instead.
 * - transient: the same request goes at once to each other backend of the model that has room (as
 *   the router moves on), then is sent again as the retry policy says (src/openai/retry-policy.ts);
 *   past the retries its callers fail with the transient error (the host redelivers their messages).
 *   Backends whose circuit the router has opened get requests only when no other may take them.
 * - configuration (a backend refusing the app's identity, a deployment missing there): the request
 *   moves to another backend of the model, as the router does; with none left its callers fail.
 * - the input at fault (bad_input, upstream_permanent; src/failure-actions.ts): a request that
 *   mixed callers is retried once per caller, so one caller's bad input does not fail the others;
 *   a caller's own failing request fails it. Anything else (cancellation) fails every caller of
 *   the request alike.
 * - an answer without exactly one vector per input fails its callers as `transient`, so no caller
 *   waits for a vector that will never come.
 */
import { AppError, CancelledError, classifyError } from "../errors.js";
import { failureActions } from "../failure-actions.js";
import type { Logger } from "../logging.js";
import { logFailedOpenAICall, logOpenAICall, upstreamRequestId } from "../openai/call-log.js";
import { transientRetryDelay, type RetryPolicy } from "../openai/retry-policy.js";
import type { Backend, Route, Router } from "../routing/index.js";
import { backendLogger, callLabels, deploymentKey as backendKey } from "../routing/router.js";
import { recordThrottleWait } from "../metrics/index.js";
import { QuotaGovernor, type QuotaSnapshot } from "./quota-governor.js";

export interface EmbeddingsBatcherOptions {
  /** Gives each backend's client (whose answers feed the router's view of its health) and that health. */
  router: Router;
  maxInputsPerRequest: number;
  maxTokensPerRequest: number;
  maxWaitInMs: number;
  /** Most requests in flight per backend (the governor adapts below this). Default 16. */
  maxConcurrency?: number;
  /** How often, and after how long, a request that failed transiently (5xx, connection lost) is sent again before its callers fail. */
  retry: Pick<RetryPolicy, "transientRetries" | "transientBackoffInMs">;
}

export interface EmbedTextsOptions {
  /** The model's backends serving embeddings (router.route("embeddings", model)). */
  route: Route;
  dimensions?: number;
  /** Epoch ms after which waiting out throttling gives up with a `throttled` error. */
  throttleDeadline: number;
  /** Where this caller's Azure OpenAI calls are logged. */
  logger: Logger;
  /** Cancels the caller's waiting chunks (an HTTP client that went away). */
  signal?: AbortSignal;
}

export interface EmbedText {
  text: string;
  tokens: number;
}

export interface EmbedTextsResult {
  /** One vector per submitted text, in order. */
  embeddings: number[][];
  /** Model reported by Azure (e.g. `text-embedding-3-small`). */
  model: string;
  /** The backends whose answers hold the vectors, in the order of the texts they first served. */
  backends: Backend[];
}

/** Counters for tests, logs and benchmarks. */
export interface BatcherStats {
  requests: number;
  throttledResponses: number;
  failedRequests: number;
  inputsSent: number;
  tokensSent: number;
}

interface Job {
  texts: readonly EmbedText[];
  vectors: (number[] | undefined)[];
  /** Which backend served each text. */
  servedBy: (Backend | undefined)[];
  missing: number;
  model: string;
  options: EmbedTextsOptions;
  settled: boolean;
  resolve(result: EmbedTextsResult): void;
  reject(error: AppError): void;
}

interface Item {
  job: Job;
  index: number;
  tokens: number;
  /** When it was submitted; requeued items keep it, so they go out first and at once. */
  at: number;
}

interface Lane {
  route: Route;
  dimensions: number | undefined;
  pending: Item[];
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

const ADA_002_MAX_INPUTS = 16;

/** The `caller` of the batcher's calls in the metrics. */
const EMBEDDINGS_CALLER = "pipeline:embeddings";

export class EmbeddingsBatcher {
  private readonly lanes = new Map<string, Lane>();
  private readonly governors = new Map<string, QuotaGovernor>();
  /** Per backend: a learned, lower input cap (text-embedding-ada-002 takes 16 inputs per request). */
  private readonly inputCaps = new Map<string, number>();
  private readonly router: Router;
  readonly stats: BatcherStats = { requests: 0, throttledResponses: 0, failedRequests: 0, inputsSent: 0, tokensSent: 0 };

  constructor(private readonly options: EmbeddingsBatcherOptions) {
    this.router = options.router;
  }

  /**
   * Embeds texts, sharing requests with concurrent callers.
   * @throws AppError `throttled` when Azure keeps throttling every backend past `throttleDeadline`;
   *   `transient` after retries of a 5xx or lost connection; `upstream_permanent` when Azure rejects this caller's texts; `configuration` when no
   *   backend of the model accepts the app; CancelledError when `signal` fires.
   */
  embed(texts: readonly EmbedText[], options: EmbedTextsOptions): Promise<EmbedTextsResult> {
    if (texts.length === 0) return Promise.resolve({ embeddings: [], model: "", backends: [] });
    if (options.signal?.aborted) return Promise.reject(new CancelledError(options.signal.reason));
    return new Promise<EmbedTextsResult>((resolve, reject) => {
      const job: Job = {
        texts,
        vectors: new Array<number[] | undefined>(texts.length),
        servedBy: new Array<Backend | undefined>(texts.length),
        missing: texts.length,
        model: "",
        options,
        settled: false,
        resolve,
        reject,
      };
      options.signal?.addEventListener("abort", () => this.fail(job, new CancelledError(options.signal?.reason)), { once: true });
      const lane = this.laneFor(options.route, options.dimensions);
      const at = Date.now();
      texts.forEach((text, index) => lane.pending.push({ job, index, tokens: text.tokens, at }));
      this.pump(lane);
    });
  }

  /** The quota picture of one backend (for logs and benchmarks). */
  quota(backend: Backend): QuotaSnapshot {
    return this.governorFor(backend).snapshot();
  }

  private laneFor(route: Route, dimensions: number | undefined): Lane {
    const key = `${route.model}\u0000${dimensions ?? ""}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { route, dimensions, pending: [], timer: undefined, timerAt: 0 };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private governorFor(backend: Backend): QuotaGovernor {
    const key = backendKey(backend);
    let governor = this.governors.get(key);
    if (!governor) {
      governor = new QuotaGovernor({ maxConcurrency: this.options.maxConcurrency ?? 16 });
      this.governors.set(key, governor);
    }
    return governor;
  }

  private maxInputs(backend: Backend): number {
    const cap = this.inputCaps.get(backendKey(backend)) ?? (/ada-002/i.test(backend.deployment) ? ADA_002_MAX_INPUTS : Infinity);
    return Math.max(1, Math.min(this.options.maxInputsPerRequest, cap));
  }

  /**
   * The route's backends a request may go to now: in the router's order, without those whose
   * governor is paused. When every backend the router would not pass over is paused, those it
   * passes over for an open circuit instead: queued work is better served by the request's own
   * retries (which end in the real failure) than by failing at once and spending a delivery.
   */
  private candidates(route: Route): Backend[] {
    const notPaused = (backend: Backend) => this.governorFor(backend).pausedForInMs() === 0;
    const healthy = this.router.order(route).filter(notPaused);
    return healthy.length > 0 ? healthy : this.router.order(route, { openCircuits: true }).filter(notPaused);
  }

  /** When the first backend of the route may take requests again (epoch ms): its governor's pause and the router's cooldown both over. */
  private backAt(route: Route): number {
    const now = Date.now();
    let at = Infinity;
    for (const backend of route.backends) {
      const availability = this.router.healthOf(backend).availability();
      const routerBack = availability.available ? now : availability.until;
      at = Math.min(at, Math.max(now + this.governorFor(backend).pausedForInMs(), routerBack));
    }
    return at;
  }

  /** Sends as many requests from the lane as the backends' quota allows, or arms a timer for when one may go. */
  private pump(lane: Lane): void {
    lane.pending = lane.pending.filter((item) => !item.job.settled);
    while (lane.pending.length > 0) {
      const candidates = this.candidates(lane.route);
      if (candidates.length === 0) {
        // Every backend is throttled (its governor paused, or the router cooling it down).
        const backAt = this.backAt(lane.route);
        this.failJobsPastDeadline(lane, backAt);
        if (lane.pending.length > 0) this.wakeAt(lane, backAt);
        return;
      }
      const maxInputs = this.maxInputs(candidates[0]!);
      const full = lane.pending.length >= maxInputs || sumTokens(lane.pending, maxInputs) >= this.options.maxTokensPerRequest;
      const waitUntil = lane.pending[0]!.at + this.options.maxWaitInMs;
      if (!full && Date.now() < waitUntil) {
        this.wakeAt(lane, waitUntil);
        return;
      }
      let sent = false;
      for (const backend of candidates) {
        const governor = this.governorFor(backend);
        const batch = this.takeBatch(lane, this.maxInputs(backend), governor.tokenAllowance(this.options.maxTokensPerRequest));
        const tokens = sumTokens(batch, batch.length);
        if (!governor.canSend(tokens)) {
          lane.pending.unshift(...batch);
          continue;
        }
        governor.sent(tokens);
        void this.send(lane, batch, backend, tokens, false);
        sent = true;
        break;
      }
      // Every backend is at its limit with requests in flight: the first to answer pumps again.
      if (!sent) return;
    }
  }

  /** Takes up to maxInputs items and maxTokens tokens from the front (always at least one item). */
  private takeBatch(lane: Lane, maxInputs: number, maxTokens: number): Item[] {
    let count = 0;
    let tokens = 0;
    while (count < lane.pending.length && count < maxInputs) {
      const next = lane.pending[count]!.tokens;
      if (count > 0 && tokens + next > Math.min(maxTokens, this.options.maxTokensPerRequest)) break;
      tokens += next;
      count++;
    }
    return lane.pending.splice(0, Math.max(1, count));
  }

  private wakeAt(lane: Lane, at: number): void {
    if (lane.timer && lane.timerAt <= at) return;
    if (lane.timer) clearTimeout(lane.timer);
    lane.timerAt = at;
    lane.timer = setTimeout(
      () => {
        lane.timer = undefined;
        this.pump(lane);
      },
      Math.max(0, at - Date.now()),
    );
  }

  /** A backend answered or gave up a slot: every lane (models may share a deployment) may send now. */
  private pumpAll(): void {
    for (const lane of this.lanes.values()) this.pump(lane);
  }

  /**
   * Another backend of the lane's model that may take this request now, other than those in
   * `passed`, with its governor's slot taken; undefined when none has room.
   */
  private takeOther(lane: Lane, passed: ReadonlySet<string>, inputs: number, tokens: number): Backend | undefined {
    for (const backend of this.candidates(lane.route)) {
      if (passed.has(backendKey(backend)) || inputs > this.maxInputs(backend)) continue;
      const governor = this.governorFor(backend);
      if (!governor.canSend(tokens)) continue;
      governor.sent(tokens);
      return backend;
    }
    return undefined;
  }

  /** One request with retries of transient failures; a governor slot of the backend it is at is held the whole time. */
  private async send(lane: Lane, batch: Item[], first: Backend, tokens: number, isolated: boolean): Promise<void> {
    let backend = first;
    let transientFailures = 0;
    // Backends that refused the app (configuration): the request does not go back to them.
    const refused = new Set<string>();
    // Backends that failed this round (transient): the request goes to the others before the policy's backoff.
    const tried = new Set<string>();
    for (;;) {
      const governor = this.governorFor(backend);
      const live = batch.filter((item) => !item.job.settled);
      if (live.length === 0) {
        governor.failed();
        this.pumpAll();
        return;
      }
      // Only the embeddings queue batches (HTTP embeddings are one call each): its calls are the pipeline's.
      const logger = backendLogger(live[0]!.job.options.logger, backend, callLabels(lane.route, backend, EMBEDDINGS_CALLER));
      const operation = `embeddings (${live.length} inputs)`;
      const started = performance.now();
      this.stats.requests++;
      this.stats.inputsSent += live.length;
      this.stats.tokensSent += tokens;
      try {
        const client = await this.router.clientOf(backend);
        const { data, response } = await client.embeddings
          .create({
            model: backend.deployment,
            input: live.map((item) => item.job.texts[item.index]!.text),
            ...(lane.dimensions === undefined ? {} : { dimensions: lane.dimensions }),
          })
          .withResponse();
        logOpenAICall(logger, {
          operation,
          deployment: backend.deployment,
          latencyInMs: performance.now() - started,
          status: response.status,
          promptTokens: data.usage?.prompt_tokens,
          requestId: upstreamRequestId(response.headers),
        });
        if (/ada-002/i.test(data.model)) this.inputCaps.set(backendKey(backend), ADA_002_MAX_INPUTS);
        governor.succeeded(response.headers, tokens);
        this.deliver(live, data.data, data.model, backend);
        this.pumpAll();
        return;
      } catch (thrown) {
        const error = classifyError(thrown);
        const headers = (thrown as { headers?: Headers }).headers;
        logFailedOpenAICall(logger, { operation, deployment: backend.deployment, latencyInMs: performance.now() - started }, error);
        if (error.kind === "throttled") {
          this.stats.throttledResponses++;
          governor.throttled(headers instanceof Headers ? headers : undefined, error.retryAfterInMs ?? 1000);
          recordThrottleWait({ capability: "embeddings", model: lane.route.model, backend: backend.name }, error.retryAfterInMs ?? 1000);
          // Back to the front of the lane, oldest first: out at once to a backend with room, or once the delay has passed.
          lane.pending.unshift(...live);
          this.pumpAll();
          return;
        }
        this.stats.failedRequests++;
        // What never got an answer (a lost connection, a timeout) the backend's fetch did not see: the router's circuit counts it here.
        if (error.kind === "transient" && error.status === undefined) this.router.healthOf(backend).failed();
        if (error.kind === "transient") {
          // Another backend first, as the router moves on: each backend once per round of the retry policy.
          tried.add(backendKey(backend));
          const other = this.takeOther(lane, new Set([...tried, ...refused]), live.length, tokens);
          if (other) {
            governor.failed();
            logger.warn(`Embeddings request failed (${error.status ?? error.code ?? error.kind}); sending it to ${other.name}`);
            backend = other;
            continue;
          }
        }
        const retryIn = transientRetryDelay(this.options.retry, error, transientFailures);
        if (retryIn !== undefined) {
          transientFailures++;
          tried.clear();
          await sleep(retryIn);
          continue;
        }
        if (error.kind === "configuration") {
          refused.add(backendKey(backend));
          const other = this.takeOther(lane, refused, live.length, tokens);
          governor.failed();
          if (other) {
            logger.warn(`Backend refused the app (${error.status ?? error.code ?? error.kind}); sending the request to ${other.name}`);
            backend = other;
            continue;
          }
          for (const job of new Set(live.map((item) => item.job))) this.fail(job, error);
          this.pumpAll();
          return;
        }
        governor.failed();
        const jobs = [...new Set(live.map((item) => item.job))];
        if (failureActions(error).inputAtFault && !isolated && jobs.length > 1) {
          // Find the caller at fault: one request per caller, each failing or succeeding on its own.
          for (const job of jobs) {
            const own = live.filter((item) => item.job === job);
            const ownTokens = sumTokens(own, own.length);
            governor.sent(ownTokens);
            void this.send(lane, own, backend, ownTokens, true);
          }
          return;
        }
        for (const job of jobs) this.fail(job, error);
        this.pumpAll();
        return;
      }
    }
  }

  private deliver(items: Item[], data: readonly { index: number; embedding: number[] }[], model: string, backend: Backend): void {
    // Every input must come back exactly once, or a caller would wait forever for a missing vector.
    const indexes = new Set(data.map((entry) => entry.index));
    if (
      data.length !== items.length ||
      indexes.size !== items.length ||
      !data.every((entry) => Number.isInteger(entry.index) && entry.index >= 0 && entry.index < items.length)
    ) {
      const error = new AppError(
        "transient",
        `Azure OpenAI answered ${data.length} embeddings for ${items.length} inputs without one per input index`,
        { code: "embeddings_count_mismatch" },
      );
      for (const job of new Set(items.map((item) => item.job))) this.fail(job, error);
      return;
    }
    for (const entry of data) {
      const item = items[entry.index];
      if (!item || item.job.settled) continue;
      const { job } = item;
      if (job.vectors[item.index] === undefined) job.missing--;
      job.vectors[item.index] = entry.embedding;
      job.servedBy[item.index] = backend;
      job.model = model;
      if (job.missing === 0) {
        job.settled = true;
        job.resolve({ embeddings: job.vectors as number[][], model: job.model, backends: [...new Set(job.servedBy as Backend[])] });
      }
    }
  }

  private fail(job: Job, error: AppError): void {
    if (job.settled) return;
    job.settled = true;
    job.reject(error);
  }

  /** Fails the callers that would still be waiting for quota after their throttle deadline. */
  private failJobsPastDeadline(lane: Lane, resumeAt: number): void {
    const backends = lane.route.backends.length === 1 ? "its backend" : `all ${lane.route.backends.length} of its backends`;
    for (const item of lane.pending) {
      const { job } = item;
      if (job.settled || job.options.throttleDeadline >= resumeAt) continue;
      this.fail(
        job,
        new AppError(
          "throttled",
          `Azure OpenAI kept throttling (429) model '${lane.route.model}' on ${backends} past this work's throttle budget ` +
            "(EMBEDDINGS_THROTTLE_BUDGET_MS). Raise the deployments' TPM quota, or add backends to the model, to go faster",
          { code: "throttle_budget_exhausted", retryAfterInMs: Math.max(0, resumeAt - Date.now()) },
        ),
      );
    }
    lane.pending = lane.pending.filter((item) => !item.job.settled);
  }
}

function sumTokens(items: readonly Item[], count: number): number {
  let total = 0;
  for (let i = 0; i < Math.min(count, items.length); i++) total += items[i]!.tokens;
  return total;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

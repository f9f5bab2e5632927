/**
 * Coalesces the embeddings work of every invocation running on this instance into few requests.
 *
 * Each caller submits its chunks and awaits their vectors. Chunks wait in a lane (one per
 * deployment + dimensions, since one request has one of each) until a request is full
 * (`maxInputsPerRequest` inputs or `maxTokensPerRequest` tokens) or the oldest has waited
 * `maxWaitInMs`; the deployment's QuotaGovernor then decides when it may go out. Vectors are
 * routed back to their callers by position, so one caller's chunks can span several requests
 * and one request can serve many callers.
 *
 * Failures, by kind (see src/errors.ts):
 * - throttled: the chunks go back to the front of their lane and wait out Azure's delay; a caller
 *   whose throttle deadline would pass first is failed with a `throttled` error instead.
 * - transient: the same request is retried as the retry policy says (src/openai/retry-policy.ts),
 *   then its callers fail with the transient error (the host redelivers their messages).
 * - the input at fault (bad_input, upstream_permanent; src/failure-actions.ts): a request that
 *   mixed callers is retried once per caller, so one caller's bad input does not fail the others;
 *   a caller's own failing request fails it. Anything else (the app's credentials or deployment,
 *   cancellation) fails every caller of the request alike.
 * - an answer without exactly one vector per input fails its callers as `transient`, so no caller
 *   waits for a vector that will never come.
 */
import type { OpenAI } from "openai";
import { AppError, CancelledError, classifyError } from "../errors.js";
import { failureActions } from "../failure-actions.js";
import type { Logger } from "../logging.js";
import { logFailedOpenAICall, logOpenAICall, upstreamRequestId } from "../openai/call-log.js";
import { transientRetryDelay, type RetryPolicy } from "../openai/retry-policy.js";
import { QuotaGovernor, type QuotaSnapshot } from "./quota-governor.js";

export interface EmbeddingsBatcherOptions {
  client: OpenAI;
  maxInputsPerRequest: number;
  maxTokensPerRequest: number;
  maxWaitInMs: number;
  /** Most requests in flight per deployment (the governor adapts below this). Default 16. */
  maxConcurrency?: number;
  /** How often, and after how long, a request that failed transiently (5xx, connection lost) is sent again before its callers fail. */
  retry: Pick<RetryPolicy, "transientRetries" | "transientBackoffInMs">;
}

export interface EmbedTextsOptions {
  deployment: string;
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
  deployment: string;
  dimensions: number | undefined;
  pending: Item[];
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

const ADA_002_MAX_INPUTS = 16;

export class EmbeddingsBatcher {
  private readonly lanes = new Map<string, Lane>();
  private readonly governors = new Map<string, QuotaGovernor>();
  /** Per deployment: a learned, lower input cap (text-embedding-ada-002 takes 16 inputs per request). */
  private readonly inputCaps = new Map<string, number>();
  readonly stats: BatcherStats = { requests: 0, throttledResponses: 0, failedRequests: 0, inputsSent: 0, tokensSent: 0 };

  constructor(private readonly options: EmbeddingsBatcherOptions) {}

  /**
   * Embeds texts, sharing requests with concurrent callers.
   * @throws AppError `throttled` when Azure keeps throttling past `throttleDeadline`; `transient`
   *   after retries of a 5xx or lost connection; `upstream_permanent` when Azure rejects this
   *   caller's texts; CancelledError when `signal` fires.
   */
  embed(texts: readonly EmbedText[], options: EmbedTextsOptions): Promise<EmbedTextsResult> {
    if (texts.length === 0) return Promise.resolve({ embeddings: [], model: "" });
    if (options.signal?.aborted) return Promise.reject(new CancelledError(options.signal.reason));
    return new Promise<EmbedTextsResult>((resolve, reject) => {
      const job: Job = {
        texts,
        vectors: new Array<number[] | undefined>(texts.length),
        missing: texts.length,
        model: "",
        options,
        settled: false,
        resolve,
        reject,
      };
      options.signal?.addEventListener("abort", () => this.fail(job, new CancelledError(options.signal?.reason)), { once: true });
      const lane = this.laneFor(options.deployment, options.dimensions);
      const at = Date.now();
      texts.forEach((text, index) => lane.pending.push({ job, index, tokens: text.tokens, at }));
      this.pump(lane);
    });
  }

  /** The quota picture of one deployment (for logs and benchmarks). */
  quota(deployment: string): QuotaSnapshot {
    return this.governorFor(deployment).snapshot();
  }

  private laneFor(deployment: string, dimensions: number | undefined): Lane {
    const key = `${deployment}\u0000${dimensions ?? ""}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { deployment, dimensions, pending: [], timer: undefined, timerAt: 0 };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private governorFor(deployment: string): QuotaGovernor {
    let governor = this.governors.get(deployment);
    if (!governor) {
      governor = new QuotaGovernor({ maxConcurrency: this.options.maxConcurrency ?? 16 });
      this.governors.set(deployment, governor);
    }
    return governor;
  }

  private maxInputs(deployment: string): number {
    const cap = this.inputCaps.get(deployment) ?? (/ada-002/i.test(deployment) ? ADA_002_MAX_INPUTS : Infinity);
    return Math.max(1, Math.min(this.options.maxInputsPerRequest, cap));
  }

  /** Sends as many requests from the lane as the quota allows, or arms a timer for when one may go. */
  private pump(lane: Lane): void {
    lane.pending = lane.pending.filter((item) => !item.job.settled);
    const governor = this.governorFor(lane.deployment);
    while (lane.pending.length > 0) {
      const pausedFor = governor.pausedForInMs();
      if (pausedFor > 0) {
        this.failJobsPastDeadline(lane, Date.now() + pausedFor);
        if (lane.pending.length > 0) this.wakeAt(lane, Date.now() + pausedFor);
        return;
      }
      const maxInputs = this.maxInputs(lane.deployment);
      const full = lane.pending.length >= maxInputs || sumTokens(lane.pending, maxInputs) >= this.options.maxTokensPerRequest;
      const waitUntil = lane.pending[0]!.at + this.options.maxWaitInMs;
      if (!full && Date.now() < waitUntil) {
        this.wakeAt(lane, waitUntil);
        return;
      }
      const batch = this.takeBatch(lane, maxInputs, governor.tokenAllowance(this.options.maxTokensPerRequest));
      const tokens = sumTokens(batch, batch.length);
      if (!governor.canSend(tokens)) {
        lane.pending.unshift(...batch);
        return; // a request in flight will answer and pump again
      }
      governor.sent(tokens);
      void this.send(lane, batch, tokens, false);
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

  private pumpDeployment(deployment: string): void {
    for (const lane of this.lanes.values()) if (lane.deployment === deployment) this.pump(lane);
  }

  /** One request with retries of transient failures; the governor slot is held for the whole time. */
  private async send(lane: Lane, batch: Item[], tokens: number, isolated: boolean): Promise<void> {
    const governor = this.governorFor(lane.deployment);
    let transientFailures = 0;
    for (;;) {
      const live = batch.filter((item) => !item.job.settled);
      if (live.length === 0) {
        governor.failed();
        this.pumpDeployment(lane.deployment);
        return;
      }
      const logger = live[0]!.job.options.logger;
      const started = performance.now();
      this.stats.requests++;
      this.stats.inputsSent += live.length;
      this.stats.tokensSent += tokens;
      try {
        const { data, response } = await this.options.client.embeddings
          .create({
            model: lane.deployment,
            input: live.map((item) => item.job.texts[item.index]!.text),
            ...(lane.dimensions === undefined ? {} : { dimensions: lane.dimensions }),
          })
          .withResponse();
        logOpenAICall(logger, {
          operation: `embeddings (${live.length} inputs)`,
          deployment: lane.deployment,
          latencyInMs: performance.now() - started,
          status: response.status,
          promptTokens: data.usage?.prompt_tokens,
          requestId: upstreamRequestId(response.headers),
        });
        if (/ada-002/i.test(data.model)) this.inputCaps.set(lane.deployment, ADA_002_MAX_INPUTS);
        governor.succeeded(response.headers, tokens);
        this.deliver(live, data.data, data.model);
        this.pumpDeployment(lane.deployment);
        return;
      } catch (thrown) {
        const error = classifyError(thrown);
        const headers = (thrown as { headers?: Headers }).headers;
        logFailedOpenAICall(
          logger,
          { operation: `embeddings (${live.length} inputs)`, deployment: lane.deployment, latencyInMs: performance.now() - started },
          error,
        );
        if (error.kind === "throttled") {
          this.stats.throttledResponses++;
          governor.throttled(headers instanceof Headers ? headers : undefined, error.retryAfterInMs ?? 1000);
          // Back to the front of the lane, oldest first, to go out once the delay has passed.
          lane.pending.unshift(...live);
          this.pumpDeployment(lane.deployment);
          return;
        }
        this.stats.failedRequests++;
        const retryIn = transientRetryDelay(this.options.retry, error, transientFailures);
        if (retryIn !== undefined) {
          await sleep(retryIn);
          transientFailures++;
          continue;
        }
        governor.failed();
        const jobs = [...new Set(live.map((item) => item.job))];
        if (failureActions(error).inputAtFault && !isolated && jobs.length > 1) {
          // Find the caller at fault: one request per caller, each failing or succeeding on its own.
          for (const job of jobs) {
            const own = live.filter((item) => item.job === job);
            const ownTokens = sumTokens(own, own.length);
            governor.sent(ownTokens);
            void this.send(lane, own, ownTokens, true);
          }
          return;
        }
        for (const job of jobs) this.fail(job, error);
        this.pumpDeployment(lane.deployment);
        return;
      }
    }
  }

  private deliver(items: Item[], data: readonly { index: number; embedding: number[] }[], model: string): void {
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
      job.model = model;
      if (job.missing === 0) {
        job.settled = true;
        job.resolve({ embeddings: job.vectors as number[][], model: job.model });
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
    for (const item of lane.pending) {
      const { job } = item;
      if (job.settled || job.options.throttleDeadline >= resumeAt) continue;
      this.fail(
        job,
        new AppError(
          "throttled",
          `Azure OpenAI deployment "${lane.deployment}" kept throttling (429) past this work's throttle budget ` +
            "(EMBEDDINGS_THROTTLE_BUDGET_MS). Raise the deployment's TPM quota to go faster",
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

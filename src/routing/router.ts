/**
 * Sends each Azure OpenAI call to one of its model's backends, and on to the next when one fails
 * in a way another backend can fix. The order for one call:
 *
 * 1. backends that are cooling down (after a 429) or whose circuit is open are passed over;
 * 2. of the rest, those whose last remaining-quota reading fits the call's token estimate come
 *    first (when none fits, all of them, in the same order);
 * 3. the lowest priority first, and within a priority a weighted random choice.
 *
 * A call that fails with a 429, a 5xx, a lost connection or a timeout, or that a backend refuses
 * for the app's own setup (401/403, a missing deployment), moves to the next backend. The caller's
 * own mistakes (400s) and cancellations do not: another backend would answer the same. When no
 * backend is left, the caller gets the last failure, or, when every backend is cooling down or
 * failing, a 429 (or 503) whose Retry-After is the soonest any of them is back. A model with one
 * backend is always asked, as before routing existed: there is no choice to make.
 */
import type { OpenAI } from "openai";
import { AppError, BadInputError, classifyError, CONNECTION_LOST, retryAfterInMs } from "../errors.js";
import { FIRST_EVENT_TIMEOUT } from "./first-event.js";
import type { Logger } from "../logging.js";
import type { CallLogger } from "../openai/call-log.js";
import { recordFailover, recordQuotaRemaining, recordThrottled, type CallLabels } from "../metrics/index.js";
import { BackendHealth, type CircuitSettings } from "./backend-health.js";
import type { Backend, Capability, RoutingTable } from "./table.js";
import type { TokenEstimate } from "./token-estimate.js";

/** One backend ready to call: its client, and a logger whose lines name it (and which carries the call's metric labels). */
export interface Target {
  backend: Backend;
  client: OpenAI;
  logger: CallLogger;
}

/** The backends one call may use: those of its model that serve its capability. */
export interface Route {
  model: string;
  capability: Capability;
  backends: readonly Backend[];
}

export interface RunOptions {
  logger: Logger;
  /** Who the call is for, in its metrics: the HTTP caller's name (src/http/caller.ts), or `pipeline:<name>`. */
  caller?: string;
  /** The caller's signal: once aborted, a failure is the caller's leaving, not the backend's. */
  signal?: AbortSignal;
  /** Tokens the call will count against quota (prompt + most completion tokens), for backends whose reading is low. */
  estimate?: TokenEstimate;
  /**
   * A failure the call's own meaning makes one to move on after, besides the usual ones: e.g. a
   * stored response another resource may hold (a 404 for `previous_response_id`).
   */
  alsoMovesOn?: (failure: AppError) => boolean;
}

export interface Routed<T> {
  value: T;
  backend: Backend;
}

export interface RouterOptions extends CircuitSettings {
  /** Builds a backend's client; its fetch must be wrapped with `observe`, so the router sees every answer. */
  connect: (backend: Backend, observe: (fetch: typeof globalThis.fetch) => typeof globalThis.fetch) => Promise<OpenAI>;
  now?: () => number;
  random?: () => number;
}

/** Code of the 429 / 503 a caller gets when every backend of its model is unavailable. */
export const ALL_BACKENDS_UNAVAILABLE = "all_backends_unavailable";

/** The least Retry-After of that answer. */
export const MIN_ALL_UNAVAILABLE_WAIT_IN_MS = 1_000;

export class Router {
  private readonly health = new Map<string, BackendHealth>();
  private readonly clients = new Map<string, Promise<OpenAI>>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly table: RoutingTable,
    private readonly options: RouterOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /**
   * The backends for a call naming `model`.
   * @throws BadInputError `model_not_found` naming the models that serve this capability.
   */
  route(capability: Capability, model: string): Route {
    const backends = (this.table.models.get(model) ?? []).filter((backend) => backend.capabilities.includes(capability));
    if (backends.length > 0) return { model, capability, backends };
    const serving = [...this.table.models]
      .filter(([, candidates]) => candidates.some((backend) => backend.capabilities.includes(capability)))
      .map(([name]) => `'${name}'`);
    const known = this.table.models.has(model)
      ? `The model '${model}' does not serve ${capability}`
      : `The model '${model}' does not exist here`;
    throw new BadInputError(
      `${known}; ${serving.length ? `use ${serving.join(" or ")}` : `no model here serves ${capability}`} (GET /api/v1/models lists every model)`,
      { param: "model", code: "model_not_found" },
    );
  }

  /**
   * Runs `attempt` on the route's backends until one succeeds or a failure no other backend can fix.
   * @throws the attempt's error, unchanged, when it is not one to fail over on or no backend is left;
   *   an AppError `all_backends_unavailable` (throttled, or transient for open circuits) when none could be tried.
   */
  async run<T>(route: Route, options: RunOptions, attempt: (target: Target) => Promise<T>): Promise<Routed<T>> {
    const tried = new Set<Backend>();
    let lastError: unknown;
    for (let picked = this.pick(route, tried, options); picked; picked = this.pick(route, tried, options)) {
      const { backend, probe } = picked;
      tried.add(backend);
      const health = this.healthOf(backend);
      if (probe) health.startProbe();
      try {
        const labels = callLabels(route, backend, options.caller);
        const target: Target = { backend, client: await this.clientOf(backend), logger: backendLogger(options.logger, backend, labels) };
        const value = await attempt(target);
        health.succeeded();
        return { value, backend };
      } catch (thrown) {
        const failure = classifyError(thrown);
        if (options.signal?.aborted || failure.kind === "cancelled") throw thrown;
        const error = (this.table.source === "AZURE_OPENAI_DEPLOYMENTS" && namingBackend(failure, route, backend)) || thrown;
        // Answers with a status were seen by the backend's fetch (observe); a call that got none
        // (no connection, a timeout, a stream cut before its first event) is recorded here.
        if (isNoAnswer(failure)) health.failed();
        if (!movesOn(failure) && !options.alsoMovesOn?.(failure)) throw error;
        lastError = error;
        const next = route.backends.length > tried.size ? "trying another backend" : "no backend left";
        if (route.backends.length > tried.size) {
          recordFailover({ capability: route.capability, model: route.model, fromBackend: backend.name, reason: failure.kind });
        }
        options.logger.warn(
          `Routing ${route.capability} for model ${route.model}: backend ${backend.name} failed (${failure.kind}${failure.status ? ` ${failure.status}` : ""}); ${next}`,
        );
      } finally {
        // A probe that ended without an answer the backend's fetch saw (the caller left, no token) lets another request probe.
        if (probe) health.probeAbandoned();
      }
    }
    const unavailable = this.allUnavailable(route);
    if (unavailable) {
      if (unavailable.kind === "throttled") {
        recordThrottled({ capability: route.capability, model: route.model, backend: "all", caller: options.caller ?? UNKNOWN_CALLER });
      }
      throw unavailable;
    }
    if (lastError !== undefined) throw lastError;
    // Unreachable: a route has backends, and when none could be picked all are unavailable.
    throw new Error(`No backend of model ${route.model} could be tried`);
  }

  /** The process's client for a backend, created on first use. */
  clientOf(backend: Backend): Promise<OpenAI> {
    const key = clientKey(backend);
    let client = this.clients.get(key);
    if (!client) {
      const health = this.healthOf(backend);
      client = this.options.connect(backend, (fetch) => observingFetch(health, fetch, backend));
      this.clients.set(key, client);
    }
    return client;
  }

  /** What this process knows of a backend's health (one per deployment: quota and outages are per deployment). */
  healthOf(backend: Backend): BackendHealth {
    const key = deploymentKey(backend);
    let health = this.health.get(key);
    if (!health) {
      health = new BackendHealth(this.options, this.now);
      this.health.set(key, health);
    }
    return health;
  }

  /**
   * The next backend to try (and whether the call is its circuit's probe), or undefined when none
   * is left that may be tried now.
   */
  private pick(route: Route, tried: ReadonlySet<Backend>, options: RunOptions): { backend: Backend; probe: boolean } | undefined {
    // A model with one backend always asks it, as before routing: Azure's 429 for one large request
    // does not refuse a small one, and there is nowhere else to go. Cooldowns and circuits choose between backends.
    if (route.backends.length === 1) return tried.size === 0 ? { backend: route.backends[0] as Backend, probe: false } : undefined;
    const untried = route.backends.filter((backend) => !tried.has(backend));
    const candidates = untried.filter((backend) => this.healthOf(backend).availability().available);
    if (candidates.length === 0) return this.lastResort(untried);
    let pool = candidates;
    const estimate = options.estimate;
    if (estimate && candidates.length > 1) {
      let exact: number | undefined;
      const once: TokenEstimate = { atMost: estimate.atMost, exact: () => (exact ??= estimate.exact()) };
      const fitting = candidates.filter((backend) => !this.healthOf(backend).cannotFit(once));
      if (fitting.length > 0) pool = fitting;
    }
    const backend = this.inOrder(pool)[0] as Backend;
    const availability = this.healthOf(backend).availability();
    return { backend, probe: availability.available && availability.probe };
  }

  /**
   * The route's backends a call may go to now, in the order the router tries them: for callers
   * that choose among them themselves (the embeddings batcher, which asks each backend's quota
   * governor). With `openCircuits`, instead those passed over only because their circuit is open.
   */
  order(route: Route, options: { openCircuits?: boolean } = {}): Backend[] {
    return this.inOrder(
      route.backends.filter((backend) => {
        const availability = this.healthOf(backend).availability();
        return options.openCircuits ? !availability.available && availability.reason === "circuit_open" : availability.available;
      }),
    );
  }

  /**
   * Lowest priority first; within a priority a weighted random order, each backend first with a
   * chance proportional to its weight (Efraimidis-Spirakis keys: random^(1/weight), largest first).
   */
  private inOrder(backends: readonly Backend[]): Backend[] {
    if (backends.length <= 1) return [...backends];
    return backends
      .map((backend) => ({ backend, key: Math.pow(this.random(), 1 / backend.weight) }))
      .sort((a, b) => a.backend.priority - b.backend.priority || b.key - a.key)
      .map(({ backend }) => backend);
  }

  /**
   * When every backend left is passed over, a failing one (circuit open, no probe in flight) is
   * tried early as its circuit's probe rather than refusing the caller: the others are throttled or
   * failing too, so the probe costs the caller nothing it would not lose anyway, and a backend that
   * has recovered takes load again at once. A throttled one is not: its 429 is a known answer.
   */
  private lastResort(untried: readonly Backend[]): { backend: Backend; probe: boolean } | undefined {
    let best: { backend: Backend; until: number } | undefined;
    for (const backend of untried) {
      const availability = this.healthOf(backend).availability();
      if (availability.available || availability.reason !== "circuit_open" || availability.probing) continue;
      if (!best || availability.until < best.until) best = { backend, until: availability.until };
    }
    return best && { backend: best.backend, probe: true };
  }

  /** The error for a route none of whose backends may be tried now, or undefined when one may. */
  private allUnavailable(route: Route): AppError | undefined {
    if (route.backends.length === 1) return undefined;
    let soonest = Infinity;
    let throttled = false;
    for (const backend of route.backends) {
      const availability = this.healthOf(backend).availability();
      if (availability.available) return undefined;
      soonest = Math.min(soonest, availability.until);
      throttled ||= availability.reason === "throttled";
    }
    // At least a second: a backend back in a few ms (a quota window refilling) would have callers
    // spend their retries at once against backends that are still short of room.
    const waitInMs = Math.max(MIN_ALL_UNAVAILABLE_WAIT_IN_MS, soonest - this.now());
    const backends = `${route.backends.length === 1 ? "The backend" : `Every one of the ${route.backends.length} backends`} of model '${route.model}'`;
    return throttled
      ? new AppError("throttled", `${backends} is cooling down after Azure OpenAI throttled it (429)`, {
          code: ALL_BACKENDS_UNAVAILABLE,
          retryAfterInMs: waitInMs,
        })
      : new AppError("transient", `${backends} is failing (5xx or no connection) and is passed over for now`, {
          code: ALL_BACKENDS_UNAVAILABLE,
          retryAfterInMs: waitInMs,
        });
  }
}

/**
 * Failures another backend may not have: throttling, outages (a 5xx, no connection, a timeout, a
 * stream cut before its first event) and a backend's own setup as Azure answered it (401/403/404).
 * Not: the caller's mistakes, our own bugs (`unexpected`), a check of an answer Azure did give (an
 * image missing from it: asking elsewhere would pay for the work again), nor the app's own setup
 * that every backend shares (no Entra ID token: the identity, not a backend, is at fault).
 */
function movesOn(failure: AppError): boolean {
  if (failure.kind === "throttled") return true;
  if (failure.kind === "configuration") return failure.status !== undefined;
  return failure.kind === "transient" && (failure.status !== undefined || isNoAnswer(failure));
}

/** The codes of a call that got no answer from its backend: nothing reached us, or the answer broke off before its first event. */
const NO_ANSWER_CODES = new Set(["timeout", "connection_error", CONNECTION_LOST, "stream_interrupted", FIRST_EVENT_TIMEOUT]);

function isNoAnswer(failure: AppError): boolean {
  return failure.kind === "transient" && failure.status === undefined && failure.code !== undefined && NO_ANSWER_CODES.has(failure.code);
}

/**
 * The backend's own setup refused (401/403, a missing deployment, a model that cannot do the
 * operation): Azure's message names the one-deployment settings, so the answer also names the
 * table entry to check.
 */
function namingBackend(failure: AppError, route: Route, backend: Backend): AppError | undefined {
  if (failure.kind !== "configuration" || failure.status === undefined) return undefined;
  const entry =
    `In AZURE_OPENAI_DEPLOYMENTS this is backend '${backend.name}' of model '${route.model}' ` +
    `(deployment ${backend.deployment} on ${backend.endpoint}${backend.apiKey ? ", with its apiKeySetting's key" : ", with the app's Entra ID token"}): check that entry.`;
  return new AppError(failure.kind, `${failure.message} ${entry}`, {
    ...(failure.status !== undefined ? { status: failure.status } : {}),
    ...(failure.code !== undefined ? { code: failure.code } : {}),
    ...(failure.requestId !== undefined ? { requestId: failure.requestId } : {}),
    cause: failure,
  });
}

/** A deployment of a resource: what Azure's quota and outages are per, so health (and the batcher's quota governors) are keyed by it. */
export function deploymentKey(backend: Backend): string {
  return `${backend.endpoint}|${backend.deployment}`;
}

/** A client: one per resource, API style and version (and so per key). */
function clientKey(backend: Backend): string {
  return `${backend.endpoint}|${backend.apiStyle}|${backend.apiVersion}|${backend.deployment}`;
}

/**
 * A fetch that tells the backend's health about every answer: 429s cool it down for Azure's
 * Retry-After, 5xx count towards its circuit, anything else closes the circuit and brings the
 * latest remaining-quota reading. It sees every request of the backend's client, so the pipelines'
 * calls inform the HTTP routes' choices and the other way round.
 */
function observingFetch(health: BackendHealth, fetch: typeof globalThis.fetch, backend: Backend): typeof globalThis.fetch {
  const quotaLabels = { deployment: backend.deployment, backend: backend.name };
  return async (input, init) => {
    const response = await fetch(input, init);
    const remaining = response.headers.get("x-ratelimit-remaining-tokens");
    // Azure has been seen sending -1 for "no limit known": no reading.
    if (remaining && Number(remaining) >= 0) recordQuotaRemaining(quotaLabels, Number(remaining));
    if (response.status === 429) health.throttled(retryAfterInMs(response.headers), response.headers);
    else if (response.status >= 500 || response.status === 408) health.failed();
    // A stream is the backend's success only once its first event arrives (the router's run says so).
    else if (response.ok && response.headers.get("content-type")?.includes("text/event-stream")) health.accepted(response.headers);
    else health.answered(response.headers);
    return response;
  };
}

/** The caller of a call made without one named (a check of the app's own, say). */
const UNKNOWN_CALLER = "unknown";

/** The metric labels of one attempt on one backend. */
export function callLabels(route: Route, backend: Backend, caller: string | undefined): CallLabels {
  return {
    capability: route.capability,
    model: route.model,
    deployment: backend.deployment,
    backend: backend.name,
    caller: caller ?? UNKNOWN_CALLER,
  };
}

/**
 * The caller's logger with ` backend=NAME` after each line, so every attempt's call log names its
 * backend; with `labels`, the call log also records the attempt's metrics (src/openai/call-log.ts).
 */
export function backendLogger(logger: Logger, backend: Backend, labels?: CallLabels): CallLogger {
  const suffix = ` backend=${backend.name}`;
  const line = (args: unknown[]) => (typeof args[0] === "string" ? [args[0] + suffix, ...args.slice(1)] : args);
  return {
    ...(labels ? { callLabels: labels } : {}),
    info: (...args) => logger.info(...line(args)),
    warn: (...args) => logger.warn(...line(args)),
    error: (...args) => logger.error(...line(args)),
  };
}

import busboy from "busboy";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { TokenAuthority, authenticate, safeEqual, type AuthMode } from "./auth.js";
import { prepareChat, prepareCompletion } from "./chat.js";
import { emptyCounters, type DeploymentCounters, type JournalEntry, type Prepared, type RequestContext } from "./context.js";
import {
  CAPABILITY_OPERATIONS,
  DEFAULT_LATENCY,
  OPERATIONS,
  faultProblems,
  isObject,
  latencyProblems,
  validateDeployment,
  type DeploymentConfig,
  type FaultRule,
  type LatencyConfig,
  type Operation,
} from "./deployments.js";
import { prepareEmbeddings } from "./embeddings.js";
import { SimulatorHttpError, azureError, invalidRequest } from "./errors.js";
import { FAULT_HEADER, FaultSelector, activeFaults, parseFaultHeader, type ActiveFaults } from "./faults.js";
import { ImageStore, prepareImages } from "./images.js";
import { SlidingWindowQuota } from "./quota.js";
import { Random, digest, sampleNonNegative } from "./random.js";
import { prepareSpeech } from "./speech.js";
import { prepareTranscription, type MultipartBody } from "./transcription.js";

/** Azure's limit on an audio upload: 25 MiB. */
export const MAX_AUDIO_BYTES = 25 * 1024 * 1024;
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const IDENTITY_PATH = "/msi/token";
const IDENTITY_API_VERSION = "2019-08-01";
const MULTIPART_OPERATIONS = new Set<Operation>(["audio/transcriptions", "audio/translations"]);

export interface ServerSettings {
  port: number;
  deployments: DeploymentConfig[];
  apiKey: string;
  disableKeyAuth: boolean;
  seed: number;
  latency: Partial<LatencyConfig>;
  tokenLifetimeSeconds: number;
  identityHeader: string;
  journalLimit: number;
  journalBodies: boolean;
}

class DeploymentRuntime {
  quota: SlidingWindowQuota;
  faultSelector: FaultSelector;
  counters: DeploymentCounters = emptyCounters();

  constructor(
    public config: DeploymentConfig,
    seed: number,
  ) {
    this.quota = new SlidingWindowQuota(config.tpm, config.rpm, config.quotaWindowMs ?? 60_000);
    this.faultSelector = new FaultSelector(digest(seed, "faults", config.name));
  }

  applyQuotaSettings(): void {
    this.quota.tpm = this.config.tpm;
    this.quota.rpm = this.config.rpm;
    this.quota.windowMs = this.config.quotaWindowMs ?? 60_000;
  }
}

/** Settings that can change at runtime, beside the deployments. */
export interface RuntimeSettings {
  disableKeyAuth: boolean;
  tokenLifetimeSeconds: number;
  /** Keep request bodies in the journal (benchmarks turn it off to save memory). */
  journalBodies: boolean;
}

/** The HTTP server: Azure OpenAI data plane, App Service identity endpoint, control API. */
export class SimulatorServer {
  readonly server: Server;
  private deployments = new Map<string, DeploymentRuntime>();
  private unrouted: DeploymentCounters = emptyCounters();
  private journal: JournalEntry[] = [];
  private nextRequestId = 1;
  private images = new ImageStore();
  private authority!: TokenAuthority;
  private sockets = new Set<Socket>();
  baseUrl = "";

  constructor(readonly settings: ServerSettings) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.internalError(res, e));
    });
    this.server.on("connection", (s) => {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    this.loadDeployments(settings.deployments);
  }

  private loadDeployments(list: readonly DeploymentConfig[]): void {
    this.deployments.clear();
    for (const d of list) this.deployments.set(d.name, new DeploymentRuntime(structuredClone(d), this.settings.seed));
  }

  async listen(): Promise<void> {
    this.authority = await TokenAuthority.create(this.settings.tokenLifetimeSeconds);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.settings.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get identityEndpoint(): string {
    return this.baseUrl + IDENTITY_PATH;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  // ---------------------------------------------------------------- dispatch

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path.startsWith("/openai/")) return this.dataPlane(req, res, url);
    if (path === IDENTITY_PATH || path === IDENTITY_PATH + "/") return this.identity(req, res, url);
    if (path.startsWith("/_simulator/")) return this.control(req, res, url);
    sendJson(res, 404, { error: { code: "404", message: "Resource not found" } });
  }

  private internalError(res: ServerResponse, e: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, 500, { error: { code: "InternalServerError", message: `Simulator bug: ${(e as Error)?.stack ?? String(e)}` } });
  }

  // ---------------------------------------------------------------- data plane

  private async dataPlane(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const entry: JournalEntry = {
      id: this.nextRequestId++,
      time: new Date().toISOString(),
      method: req.method ?? "GET",
      path: url.pathname,
      status: 0,
      stream: false,
      durationMs: 0,
      requestId,
      headers: pickHeaders(req),
    };
    const headers: Record<string, string> = { "apim-request-id": requestId, "x-request-id": requestId, "x-ms-region": "Simulated Region" };
    const clientRequestId = req.headers["x-ms-client-request-id"];
    if (typeof clientRequestId === "string") headers["x-ms-client-request-id"] = clientRequestId;

    let counters = this.unrouted;
    let finalized = false;
    let dropped = false;
    const abort = new AbortController();
    const finalize = () => {
      if (finalized) return;
      finalized = true;
      entry.durationMs = Math.round((performance.now() - started) * 10) / 10;
      if (!entry.status) entry.status = res.headersSent ? res.statusCode : 0;
      if (!res.writableFinished && !dropped && entry.status !== 0) {
        entry.aborted = true;
        if (entry.stream) counters.abortedStreams++;
        else counters.abortedRequests++;
      }
      // Routed requests were counted on arrival; the others only now, as unrouted.
      if (counters === this.unrouted) counters.requests++;
      counters.statuses[entry.status] = (counters.statuses[entry.status] ?? 0) + 1;
      if (entry.status === 429) counters.throttled++;
      this.journal.push(entry);
      if (this.journal.length > this.settings.journalLimit) this.journal.splice(0, this.journal.length - this.settings.journalLimit);
    };
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
      finalize();
    });

    try {
      const route = parseRoute(url.pathname);
      if (!route) throw azureError(404, "404", "Resource not found");
      entry.apiStyle = route.style;
      const apiVersion = url.searchParams.get("api-version") ?? undefined;
      if (apiVersion) entry.apiVersion = apiVersion;
      if (route.style === "dated") {
        if (!apiVersion)
          throw azureError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
          );
        if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(apiVersion))
          throw azureError(
            400,
            "UnsupportedApiVersion",
            `The HTTP resource that matches the request URI '${url.pathname}' does not support the API version '${apiVersion}'.`,
          );
      }
      entry.auth = await authenticate(req.headers, route.style === "v1", this.settings, this.authority);

      if (route.kind === "models") {
        if (req.method !== "GET") throw azureError(405, "405", "Method not allowed");
        const models = [...this.deployments.values()].map((d) => modelObject(d.config));
        const body = route.id === undefined ? { object: "list", data: models } : models.find((m) => m.id === route.id);
        if (!body) throw azureError(404, "DeploymentNotFound", `The model '${route.id}' does not exist.`);
        entry.status = 200;
        return sendJson(res, 200, body, headers);
      }

      const operation = route.operation;
      if (!(OPERATIONS as readonly string[]).includes(operation)) throw azureError(404, "404", "Resource not found");
      if (req.method !== "POST") throw azureError(405, "405", `The ${operation} operation takes POST.`);
      entry.operation = operation;

      const multipart = MULTIPART_OPERATIONS.has(operation);
      const body = multipart ? await readMultipart(req) : await readJson(req);
      const name = route.style === "dated" ? route.deployment : modelField(body, multipart);
      if (!name)
        throw invalidRequest(
          "Missing required parameter: 'model' (on /openai/v1 paths it names the deployment).",
          "model",
          "missing_required_parameter",
        );
      const dep = this.deployments.get(name);
      if (!dep) {
        entry.deployment = name;
        throw azureError(
          404,
          "DeploymentNotFound",
          "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
        );
      }
      entry.deployment = name;
      counters = dep.counters;
      counters.requests++;
      const { config } = dep;
      if (!CAPABILITY_OPERATIONS[config.capability].includes(operation))
        throw azureError(
          400,
          "OperationNotSupported",
          `The ${operationLabel(operation)} operation does not work with the specified model, ${config.model}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.`,
        );

      // Faults: the header's apply to this request; the deployment's rules pick requests by seed and count.
      const headerValue = req.headers[FAULT_HEADER];
      const rules: FaultRule[] = [
        ...(typeof headerValue === "string" ? parseFaultHeader(headerValue) : []),
        ...dep.faultSelector.select(config.faults ?? [], operation),
      ];
      const faults = activeFaults(rules);
      if (faults.names.length) {
        entry.faults = faults.names;
        counters.faults++;
      }
      if (this.settings.journalBodies) entry.body = journalBody(body, multipart);

      const requestRandom = new Random(digest(this.settings.seed, "request", entry.id));
      const prepared = this.prepare(operation, body, config, faults, requestRandom);
      entry.stream = prepared.stream === true;
      const file = isObject(entry.body) ? entry.body.file : undefined;
      if (prepared.audio && isObject(file))
        Object.assign(file, { format: prepared.audio.format, durationSeconds: prepared.audio.durationSeconds });

      if (faults.reset) {
        // Connection reset before any header: the client sees a network error.
        dropped = true;
        entry.status = 0;
        const socket = req.socket as Socket & { resetAndDestroy?: () => void };
        if (socket.resetAndDestroy) socket.resetAndDestroy();
        else socket.destroy();
        return;
      }
      if (faults.status) {
        if (faults.delayMs > 0) await delay(faults.delayMs, abort.signal);
        throw faultError(faults.status.code, faults.status.retryAfterMs, operation, apiVersion, config);
      }

      const decision = dep.quota.tryCharge(prepared.chargeTokens);
      setRemaining(headers, decision.remainingRequests, decision.remainingTokens);
      if (!decision.ok) {
        entry.throttled = decision.reason;
        throw throttled(decision.reason, decision.retryAfterMs, operation, apiVersion, config);
      }
      entry.chargedTokens = prepared.chargeTokens;

      const latency: LatencyConfig = { ...DEFAULT_LATENCY, ...this.settings.latency, ...config.latency };
      const ctx: RequestContext = {
        req,
        res,
        deployment: config,
        counters,
        operation,
        latency,
        faults,
        random: requestRandom,
        seed: this.settings.seed,
        signal: abort.signal,
        entry,
        baseUrl: this.baseUrl,
        headers,
        sampleMs: (mean) => sampleNonNegative(requestRandom, mean, mean * latency.stdDevRatio),
        sleep: (ms) => delay(ms, abort.signal),
        sendJson: (status, b, extra) => {
          entry.status = status;
          writeBody(res, status, "application/json", JSON.stringify(b), { ...headers, ...extra }, faults, () => (dropped = true));
        },
        sendBytes: (status, type, bytes, extra) => {
          entry.status = status;
          writeBody(res, status, type, bytes, { ...headers, ...extra }, faults, () => (dropped = true));
        },
        recordUsage: (prompt, completion) => {
          entry.usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
          counters.promptTokens += prompt;
          counters.completionTokens += completion;
          counters.totalTokens += prompt + completion;
        },
        dropConnection: () => {
          dropped = true;
          entry.status = res.statusCode;
          // Let what was written reach the client first, so the cut falls mid-stream, not before the headers.
          res.write("", () => setTimeout(() => res.socket?.destroy(), 5));
        },
      };
      await prepared.respond(ctx);
      if (entry.stream && res.headersSent) entry.status = res.statusCode;
    } catch (e) {
      if (!(e instanceof SimulatorHttpError)) throw e;
      entry.status = e.status;
      if (res.headersSent || res.destroyed) return;
      sendJson(res, e.status, e.body, { ...headers, ...e.headers });
    }
  }

  private prepare(
    operation: Operation,
    body: Record<string, unknown> | MultipartBody,
    config: DeploymentConfig,
    faults: ActiveFaults,
    random: Random,
  ): Prepared {
    const seed = this.settings.seed;
    switch (operation) {
      case "chat/completions":
        return prepareChat(body as Record<string, unknown>, config, seed, random, faults);
      case "completions":
        return prepareCompletion(body as Record<string, unknown>, config, seed, random, faults);
      case "embeddings":
        return prepareEmbeddings(body as Record<string, unknown>, config);
      case "audio/transcriptions":
      case "audio/translations":
        return prepareTranscription(body as MultipartBody, config, seed, operation === "audio/translations");
      case "audio/speech":
        return prepareSpeech(body as Record<string, unknown>, seed);
      case "images/generations":
        return prepareImages(body as Record<string, unknown>, config, seed, this.images, faults);
    }
  }

  // ---------------------------------------------------------------- identity

  private async identity(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const secret = req.headers["x-identity-header"];
    if (typeof secret !== "string" || !safeEqual(secret, this.settings.identityHeader))
      return sendJson(res, 401, {
        statusCode: 401,
        message: "Unauthorized: the X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
      });
    if (url.searchParams.get("api-version") !== IDENTITY_API_VERSION)
      return sendJson(res, 400, { statusCode: 400, message: `api-version must be ${IDENTITY_API_VERSION}.` });
    const resource = url.searchParams.get("resource");
    if (!resource) return sendJson(res, 400, { statusCode: 400, message: "The 'resource' query parameter is required." });
    const clientId = url.searchParams.get("client_id") ?? undefined;
    const token = await this.authority.issue({ resource: resource.replace(/\/\.default$/, ""), ...(clientId ? { clientId } : {}) });
    sendJson(res, 200, token);
  }

  // ---------------------------------------------------------------- control API

  private async control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.slice("/_simulator".length);
    const method = req.method ?? "GET";
    try {
      const image = path.match(/^\/images\/([0-9a-f-]+)\.png$/);
      if (image && method === "GET") {
        const png = this.images.get(image[1]!);
        if (!png) return sendJson(res, 404, { error: { code: "404", message: "Image not found (the simulator keeps the latest 64)." } });
        res.writeHead(200, { "content-type": "image/png", "content-length": png.length });
        return void res.end(png);
      }
      if (path === "/health") return sendJson(res, 200, { ok: true });
      if (path === "/journal" && method === "GET") return sendJson(res, 200, { entries: this.queryJournal(url.searchParams) });
      if (path === "/counters" && method === "GET") return sendJson(res, 200, this.counters());
      if (path === "/reset" && method === "POST") {
        const body = await readJson(req, true);
        this.reset(body.keepDeployments === true);
        return sendJson(res, 200, { ok: true });
      }
      if (path === "/settings") {
        if (method === "PATCH") {
          const body = await readJson(req);
          if (body.disableKeyAuth !== undefined) {
            if (typeof body.disableKeyAuth !== "boolean") throw controlError("disableKeyAuth: a boolean");
            this.settings.disableKeyAuth = body.disableKeyAuth;
          }
          if (body.tokenLifetimeSeconds !== undefined) {
            if (typeof body.tokenLifetimeSeconds !== "number" || !(body.tokenLifetimeSeconds > 0))
              throw controlError("tokenLifetimeSeconds: a positive number");
            this.settings.tokenLifetimeSeconds = body.tokenLifetimeSeconds;
            this.authority.tokenLifetimeSeconds = body.tokenLifetimeSeconds;
          }
          if (body.journalBodies !== undefined) {
            if (typeof body.journalBodies !== "boolean") throw controlError("journalBodies: a boolean");
            this.settings.journalBodies = body.journalBodies;
          }
        }
        return sendJson(res, 200, this.runtimeSettings());
      }
      if (path === "/tokens" && method === "POST") {
        const body = await readJson(req, true);
        const token = await this.authority.issue({
          ...(typeof body.resource === "string" ? { resource: body.resource } : {}),
          ...(typeof body.lifetimeSeconds === "number" ? { lifetimeSeconds: body.lifetimeSeconds } : {}),
          ...(typeof body.clientId === "string" ? { clientId: body.clientId } : {}),
        });
        return sendJson(res, 200, token);
      }
      if (path === "/deployments" && method === "GET")
        return sendJson(res, 200, { deployments: [...this.deployments.values()].map((d) => d.config) });
      const dm = path.match(/^\/deployments\/([^/]+)$/);
      if (dm) {
        const name = decodeURIComponent(dm[1]!);
        if (method === "PUT") {
          const body = await readJson(req);
          const config = validateDeployment({ ...body, name }, `deployment ${name}`);
          this.deployments.set(name, new DeploymentRuntime(config, this.settings.seed));
          return sendJson(res, 200, config);
        }
        const targets =
          name === "*" ? [...this.deployments.values()] : [this.deployments.get(name)].filter((d): d is DeploymentRuntime => !!d);
        if (!targets.length) return sendJson(res, 404, { error: { code: "DeploymentNotFound", message: `No deployment named ${name}.` } });
        if (method === "GET") return sendJson(res, 200, targets[0]!.config);
        if (method === "DELETE") {
          for (const t of targets) this.deployments.delete(t.config.name);
          return sendJson(res, 200, { ok: true });
        }
        if (method === "PATCH") {
          const patch = await readJson(req);
          const updated = targets.map((t) => this.patchDeployment(t, patch));
          return sendJson(res, 200, name === "*" ? { deployments: updated } : updated[0]);
        }
      }
      sendJson(res, 404, {
        error: { code: "404", message: `No control endpoint ${method} /_simulator${path}. See tools/simulator/README.md.` },
      });
    } catch (e) {
      if (e instanceof SimulatorHttpError) return sendJson(res, e.status, e.body, e.headers);
      if (e instanceof Error) return sendJson(res, 400, { error: { code: "BadRequest", message: e.message } });
      throw e;
    }
  }

  /**
   * Applies a partial deployment: `latency` merges into the current latency, `faults` replaces
   * the rules (and restarts their counts), anything else replaces the field.
   */
  private patchDeployment(runtime: DeploymentRuntime, patch: Record<string, unknown>): DeploymentConfig {
    if ("name" in patch && patch.name !== runtime.config.name) throw controlError("name cannot be changed; PUT a new deployment instead");
    const problems = [...latencyProblems(patch.latency), ...faultProblems(patch.faults)];
    if (problems.length) throw controlError(problems.join("; "));
    const next: Record<string, unknown> = { ...runtime.config };
    for (const [k, v] of Object.entries(patch)) {
      if (k === "latency") next.latency = { ...runtime.config.latency, ...(v as object) };
      else if (v === null) delete next[k];
      else next[k] = v;
    }
    const config = validateDeployment(next, `deployment ${runtime.config.name}`);
    runtime.config = config;
    runtime.applyQuotaSettings();
    if ("faults" in patch) runtime.faultSelector.reset();
    return config;
  }

  private queryJournal(q: URLSearchParams): JournalEntry[] {
    const deployment = q.get("deployment");
    const operation = q.get("operation");
    const since = Number(q.get("since") ?? 0);
    const limit = Number(q.get("limit") ?? 0);
    let entries = this.journal.filter(
      (e) => (!deployment || e.deployment === deployment) && (!operation || e.operation === operation) && e.id > since,
    );
    if (limit > 0) entries = entries.slice(-limit);
    return entries;
  }

  counters(): {
    total: DeploymentCounters;
    deployments: Record<string, DeploymentCounters>;
    unrouted: DeploymentCounters;
    identity: { tokensIssued: number };
  } {
    const deployments: Record<string, DeploymentCounters> = {};
    const total = emptyCounters();
    const add = (c: DeploymentCounters) => {
      for (const k of Object.keys(c) as (keyof DeploymentCounters)[]) {
        if (k === "statuses") for (const [s, n] of Object.entries(c.statuses)) total.statuses[s] = (total.statuses[s] ?? 0) + n;
        else total[k] += c[k];
      }
    };
    for (const [name, d] of this.deployments) {
      deployments[name] = d.counters;
      add(d.counters);
    }
    add(this.unrouted);
    return { total, deployments, unrouted: this.unrouted, identity: { tokensIssued: this.authority.tokensIssued } };
  }

  runtimeSettings(): RuntimeSettings {
    return {
      disableKeyAuth: this.settings.disableKeyAuth,
      tokenLifetimeSeconds: this.settings.tokenLifetimeSeconds,
      journalBodies: this.settings.journalBodies,
    };
  }

  reset(keepDeployments: boolean): void {
    this.journal = [];
    this.unrouted = emptyCounters();
    this.images.clear();
    if (!keepDeployments) {
      this.loadDeployments(this.settings.deployments);
      return;
    }
    for (const d of this.deployments.values()) {
      d.counters = emptyCounters();
      d.quota.reset();
      d.faultSelector.reset();
    }
  }
}

// ---------------------------------------------------------------- helpers

type Route =
  | { style: "dated"; kind: "op"; deployment: string; operation: Operation }
  | { style: "v1"; kind: "op"; operation: Operation }
  | { style: "dated" | "v1"; kind: "models"; id?: string };

function parseRoute(path: string): Route | undefined {
  const dated = path.match(/^\/openai\/deployments\/([^/]+)\/(.+?)\/?$/);
  if (dated) return { style: "dated", kind: "op", deployment: decodeURIComponent(dated[1]!), operation: dated[2] as Operation };
  if (/^\/openai\/models\/?$/.test(path)) return { style: "dated", kind: "models" };
  const models = path.match(/^\/openai\/v1\/models(?:\/([^/]+))?\/?$/);
  if (models) return { style: "v1", kind: "models", ...(models[1] ? { id: decodeURIComponent(models[1]) } : {}) };
  const v1 = path.match(/^\/openai\/v1\/(.+?)\/?$/);
  if (v1) return { style: "v1", kind: "op", operation: v1[1] as Operation };
  return undefined;
}

function operationLabel(op: Operation): string {
  return {
    "chat/completions": "chatCompletion",
    completions: "completion",
    embeddings: "embeddings",
    "audio/transcriptions": "transcription",
    "audio/translations": "translation",
    "audio/speech": "speech",
    "images/generations": "imageGeneration",
  }[op];
}

function operationName(op: Operation): string {
  return {
    "chat/completions": "ChatCompletions_Create",
    completions: "Completions_Create",
    embeddings: "Embeddings_Create",
    "audio/transcriptions": "AudioTranscriptions_Create",
    "audio/translations": "AudioTranslations_Create",
    "audio/speech": "AudioSpeech_Create",
    "images/generations": "ImageGenerations_Create",
  }[op];
}

function modelObject(d: DeploymentConfig) {
  return {
    id: d.name,
    object: "model" as const,
    created: 1_720_000_000,
    owned_by: "system",
    model: d.model,
    capabilities: {
      chat_completion: d.capability === "chat",
      completion: d.capability === "completions",
      embeddings: d.capability === "embeddings",
      inference: true,
    },
  };
}

function modelField(body: Record<string, unknown> | MultipartBody, multipart: boolean): string | undefined {
  const m = multipart ? (body as MultipartBody).fields.model : (body as Record<string, unknown>).model;
  const v = Array.isArray(m) ? m[0] : m;
  return typeof v === "string" && v ? v : undefined;
}

function setRemaining(headers: Record<string, string>, requests: number | undefined, tokens: number | undefined): void {
  if (requests !== undefined) headers["x-ratelimit-remaining-requests"] = String(requests);
  if (tokens !== undefined) headers["x-ratelimit-remaining-tokens"] = String(tokens);
}

function throttled(
  reason: "requests" | "tokens",
  retryAfterMs: number,
  op: Operation,
  apiVersion: string | undefined,
  d: DeploymentConfig,
): SimulatorHttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return azureError(
    429,
    "429",
    `Requests to the ${operationName(op)} Operation under Azure OpenAI API version ${apiVersion ?? "v1"} have exceeded ${reason === "tokens" ? "token rate limit" : "call rate limit"} of your current OpenAI S0 pricing tier (deployment ${d.name}). Please retry after ${seconds} second${seconds === 1 ? "" : "s"}. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
    { "retry-after": String(seconds), "retry-after-ms": String(Math.ceil(retryAfterMs)) },
  );
}

function faultError(
  status: number,
  retryAfterMs: number | undefined,
  op: Operation,
  apiVersion: string | undefined,
  d: DeploymentConfig,
): SimulatorHttpError {
  if (status === 429) return throttled("tokens", retryAfterMs ?? 1000, op, apiVersion, d);
  const error = faultBody(status, op);
  // 503s say when to come back, as Azure's do; other statuses only when the fault gives a time.
  const wait = retryAfterMs ?? (status === 503 ? 1000 : undefined);
  if (wait !== undefined)
    Object.assign(error.headers, { "retry-after": String(Math.max(1, Math.ceil(wait / 1000))), "retry-after-ms": String(wait) });
  return error;
}

function faultBody(status: number, op: Operation): SimulatorHttpError {
  switch (status) {
    case 400:
      return invalidRequest("Injected fault: bad request.", null, "simulator_fault");
    case 401:
      return azureError(
        401,
        "401",
        "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.",
      );
    case 403:
      return azureError(
        403,
        "PermissionDenied",
        `The principal lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/deployments/${op}/action\` to perform \`POST /openai/deployments/{deployment-id}/${op}\` operation.`,
      );
    case 404:
      return azureError(404, "DeploymentNotFound", "The API deployment for this resource does not exist.");
    case 500:
      return azureError(500, "InternalServerError", "The server had an error while processing your request. Sorry about that!");
    case 503:
      return azureError(503, "ServiceUnavailable", "The service is temporarily unable to process your request. Please try again later.");
    default:
      return azureError(status, String(status), `Injected fault: HTTP ${status}.`);
  }
}

function controlError(message: string): SimulatorHttpError {
  return new SimulatorHttpError(400, { error: { code: "BadRequest", message } });
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (!(ms > 0)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Writes a whole body, or, under the `drop` fault, the headers and half the body before cutting the connection. */
function writeBody(
  res: ServerResponse,
  status: number,
  type: string,
  body: Buffer | string,
  headers: Record<string, string>,
  faults: ActiveFaults,
  onDrop: () => void,
): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, "content-type": type, "content-length": bytes.length });
  if (faults.dropAfterTokens !== undefined) {
    onDrop();
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => res.socket?.destroy(), 5));
    return;
  }
  res.end(bytes);
}

function pickHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of ["user-agent", "x-ms-client-request-id", "x-stainless-retry-count", FAULT_HEADER]) {
    const v = req.headers[h];
    if (typeof v === "string") out[h] = v;
  }
  return out;
}

async function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw invalidRequest(`Request body too large: over ${limit} bytes.`, null, "request_too_large", 413);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** @throws SimulatorHttpError 400 when the body is not a JSON object. */
async function readJson(req: IncomingMessage, allowEmpty = false): Promise<Record<string, unknown>> {
  const raw = await readRaw(req, MAX_JSON_BYTES);
  if (raw.length === 0 && allowEmpty) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  }
  if (!isObject(parsed)) throw invalidRequest("The request body must be a JSON object.");
  return parsed;
}

/**
 * Parses a multipart upload with busboy: form fields (repeated names become arrays) and the
 * `file` part, read up to 25 MiB.
 * @throws SimulatorHttpError 400 when the body is not multipart, 413 over Azure's 25 MiB.
 */
function readMultipart(req: IncomingMessage): Promise<MultipartBody> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: MAX_AUDIO_BYTES, files: 1, fields: 100 } });
    } catch {
      reject(invalidRequest("This operation takes multipart/form-data with a 'file' part.", "file"));
      req.resume();
      return;
    }
    const fields: Record<string, string | string[]> = {};
    let file: MultipartBody["file"];
    let tooLarge = 0;
    const pending: Promise<void>[] = [];
    bb.on("field", (name, value) => {
      const prev = fields[name];
      fields[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    });
    bb.on("file", (name, stream, info) => {
      if (name !== "file") {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      pending.push(
        new Promise((done) => {
          stream.on("data", (c: Buffer) => {
            size += c.length;
            chunks.push(c);
          });
          stream.on("limit", () => (tooLarge = MAX_AUDIO_BYTES + 1));
          stream.on("close", () => {
            if (tooLarge) tooLarge = size + 1;
            else file = { name: info.filename ?? "file", contentType: info.mimeType, data: Buffer.concat(chunks) };
            done();
          });
        }),
      );
    });
    bb.on("error", (e: Error) => reject(invalidRequest(`Malformed multipart body: ${e.message}`, "file")));
    bb.on("close", () => {
      void Promise.all(pending).then(() => {
        if (tooLarge) {
          // Keep reading what the client still sends, so it gets the answer rather than a reset.
          reject(
            new SimulatorHttpError(413, {
              error: {
                message: `Maximum content size limit (${MAX_AUDIO_BYTES}) exceeded (${Number(req.headers["content-length"] ?? tooLarge)} bytes read)`,
                type: "server_error",
                param: null,
                code: null,
              },
            }),
          );
        } else resolve({ fields, ...(file ? { file } : {}) });
      });
    });
    req.pipe(bb);
  });
}

function journalBody(body: Record<string, unknown> | MultipartBody, multipart: boolean): unknown {
  if (!multipart) return body;
  const m = body as MultipartBody;
  return m.file ? { ...m.fields, file: { name: m.file.name, bytes: m.file.data.length } } : { ...m.fields };
}

/** A random identity header value, like App Service's per-process secret. */
export function randomIdentityHeader(): string {
  return randomBytes(16).toString("hex");
}

export type { AuthMode };

/**
 * The Azure OpenAI data plane under /openai/: one request from arrival to answer, in Azure's
 * order: route and api-version, authentication, the deployment and whether its model does the
 * operation, injected faults, the request's own checks (each operation's prepare*), the quota,
 * then the operation's answer with simulated latency. Whatever fails on the way is answered as
 * Azure answers it, and every request lands in the journal and counters (request-record.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { authenticate } from "./auth.js";
import { prepareChat, prepareCompletion } from "./chat.js";
import type { Prepared, RequestContext } from "./context.js";
import {
  CAPABILITY_OPERATIONS,
  DEFAULT_LATENCY,
  OPERATIONS,
  isObject,
  type DeploymentConfig,
  type FaultRule,
  type LatencyConfig,
  type Operation,
} from "./deployments.js";
import { checkApiVersion, modelField, modelsAnswer, parseRoute } from "./data-plane-routes.js";
import { prepareEmbeddings } from "./embeddings.js";
import { SimulatorHttpError, azureError, invalidRequest } from "./errors.js";
import { FAULT_HEADER, activeFaults, parseFaultHeader, type ActiveFaults } from "./faults.js";
import { AUDIO_UPLOAD, readJson, readMultipart, sendJson, writeBody, type MultipartLimits } from "./http-io.js";
import { IMAGE_EDIT_UPLOAD, prepareImageEdit, prepareImages } from "./images.js";
import { deploymentNotFound, faultError, operationNotSupported, throttled } from "./operation-errors.js";
import { Random, digest, sampleNonNegative } from "./random.js";
import type { QuotaRemaining } from "./quota.js";
import { journalBody, startRecord, type RequestRecord } from "./request-record.js";
import { prepareResponse } from "./responses.js";
import { serveStoredResponse } from "./responses-routes.js";
import { prepareSpeech } from "./speech.js";
import type { DeploymentRuntime, SimulatorState } from "./state.js";
import { prepareTranscription, type MultipartBody } from "./transcription.js";

/** Operations whose streams are generated token by token, which the `stream-error` fault can break. */
const TOKEN_STREAMS: readonly Operation[] = ["chat/completions", "completions", "responses"];

/** Operations that take multipart uploads, and which file parts each keeps. */
const MULTIPART_OPERATIONS = new Map<Operation, MultipartLimits>([
  ["audio/transcriptions", AUDIO_UPLOAD],
  ["audio/translations", AUDIO_UPLOAD],
  ["images/edits", IMAGE_EDIT_UPLOAD],
]);

/** Serves one /openai/ request. `baseUrl` is where the simulator listens (image answers link back to it). */
export async function serveDataPlane(
  state: SimulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  baseUrl: string,
): Promise<void> {
  const record = startRecord(state, req, res, url);
  const { entry, headers } = record;
  try {
    const route = parseRoute(url.pathname);
    if (!route) throw azureError(404, "404", "Resource not found");
    entry.apiStyle = route.style;
    const apiVersion = url.searchParams.get("api-version") ?? undefined;
    if (apiVersion) entry.apiVersion = apiVersion;
    checkApiVersion(route, apiVersion);
    entry.auth = await authenticate(req.headers, route.style === "v1", state.settings, state.authority);

    if (route.kind === "stored-response") return serveStoredResponse(state, req, res, url, route, record);
    if (route.kind === "models") {
      if (req.method !== "GET") throw azureError(405, "405", "Method not allowed");
      const body = modelsAnswer(
        [...state.deployments.values()].map((runtime) => runtime.config),
        route.id,
      );
      entry.status = 200;
      return sendJson(res, 200, body, headers);
    }

    const operation = route.operation;
    if (!(OPERATIONS as readonly string[]).includes(operation)) throw azureError(404, "404", "Resource not found");
    if (req.method !== "POST") throw azureError(405, "405", `The ${operation} operation takes POST.`);
    entry.operation = operation;

    const uploadLimits = MULTIPART_OPERATIONS.get(operation);
    const multipart = uploadLimits !== undefined;
    const body = uploadLimits ? await readMultipart(req, uploadLimits) : await readJson(req);
    const runtime = routeToDeployment(state, record, "deployment" in route ? route.deployment : modelField(body, multipart));
    const { config } = runtime;
    if (!CAPABILITY_OPERATIONS[config.capability].includes(operation)) throw operationNotSupported(operation, config);

    const faults = selectFaults(req, runtime, operation, record);
    if (state.settings.journalBodies) entry.body = journalBody(body, multipart);

    const requestRandom = new Random(digest(state.settings.seed, "request", entry.id));
    const prepared = prepareOperation(state, operation, body, config, faults, requestRandom);
    entry.stream = prepared.stream === true;
    const file = isObject(entry.body) ? entry.body.file : undefined;
    if (prepared.audio && isObject(file))
      Object.assign(file, { format: prepared.audio.format, durationSeconds: prepared.audio.durationSeconds });

    if (faults.reset) return resetConnection(req, record);
    // A stream-error fault on an answer that is no token stream has no stream to break: it fails as the model would, with a 500.
    if (faults.streamErrorAfterTokens !== undefined && !(entry.stream && TOKEN_STREAMS.includes(operation)))
      faults.status ??= { code: 500 };
    if (faults.status) {
      if (faults.delayMs > 0) await delay(faults.delayMs, record.signal);
      throw faultError(faults.status.code, faults.status.retryAfterMs, operation, apiVersion, config);
    }

    chargeQuota(runtime, prepared, record, operation, apiVersion);
    if (faults.headersOnly) return await cutAfterHeaders(res, record, faults.delayMs);
    await prepared.respond(requestContext(state, req, res, record, runtime, operation, faults, requestRandom, baseUrl));
    if (entry.stream && res.headersSent) entry.status = res.statusCode;
  } catch (error) {
    // The client went away: its entry was journalled, as aborted, when the response closed, and
    // whatever failed after that (reading the rest of the body, a fault's status) is answered to no one.
    if (record.signal.aborted || res.destroyed) return;
    if (!(error instanceof SimulatorHttpError)) throw error;
    if (res.headersSent) return;
    entry.status = error.status;
    sendJson(res, error.status, error.body, { ...headers, ...error.headers });
  }
}

/**
 * Finds the deployment the request names; from here on it counts in that deployment's counters.
 * @throws SimulatorHttpError 400 when no deployment is named, 404 DeploymentNotFound when it does not exist.
 */
function routeToDeployment(state: SimulatorState, record: RequestRecord, name: string | undefined): DeploymentRuntime {
  if (!name)
    throw invalidRequest(
      "Missing required parameter: 'model' (on /openai/v1 paths it names the deployment).",
      "model",
      "missing_required_parameter",
    );
  record.entry.deployment = name;
  const runtime = state.deployments.get(name);
  if (!runtime) throw deploymentNotFound();
  record.counters = runtime.counters;
  record.counters.requests++;
  // From here every answer (refusals, faults and 429s included) says what remains of the quota.
  setRemainingHeaders(record, runtime.quota.remaining());
  return runtime;
}

function setRemainingHeaders(record: RequestRecord, remaining: QuotaRemaining): void {
  record.headers["x-ratelimit-remaining-requests"] = String(remaining.remainingRequests);
  record.headers["x-ratelimit-remaining-tokens"] = String(remaining.remainingTokens);
}

/** Faults: the header's apply to this request; the deployment's rules pick requests by seed and count. */
function selectFaults(req: IncomingMessage, runtime: DeploymentRuntime, operation: Operation, record: RequestRecord): ActiveFaults {
  const headerValue = req.headers[FAULT_HEADER];
  const rules: FaultRule[] = [
    ...(typeof headerValue === "string" ? parseFaultHeader(headerValue) : []),
    ...runtime.faultSelector.select(runtime.config.faults ?? [], operation),
  ];
  const faults = activeFaults(rules);
  if (faults.names.length) {
    record.entry.faults = faults.names;
    record.counters.faults++;
  }
  return faults;
}

/** The operation's own checks of the request, and what it will charge to the token quota. */
function prepareOperation(
  state: SimulatorState,
  operation: Operation,
  body: Record<string, unknown> | MultipartBody,
  config: DeploymentConfig,
  faults: ActiveFaults,
  random: Random,
): Prepared {
  const seed = state.settings.seed;
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
      return prepareSpeech(body as Record<string, unknown>, config, seed);
    case "images/generations":
      return prepareImages(body as Record<string, unknown>, config, seed, state.images, faults);
    case "images/edits":
      return prepareImageEdit(body as MultipartBody, config, seed, faults);
    case "responses":
      return prepareResponse(body as Record<string, unknown>, config, seed, random, state.responses, faults);
  }
}

/** The `reset` fault: the connection is reset before any header, so the client sees a network error. */
function resetConnection(req: IncomingMessage, record: RequestRecord): void {
  record.dropped = true;
  record.entry.status = 0;
  const socket = req.socket as Socket & { resetAndDestroy?: () => void };
  if (socket.resetAndDestroy) socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * The `headers-only` fault: the request is admitted and answered 200 with its headers (a stream's
 * content type for a stream), then the connection is cut before any byte of the body, as when a
 * backend fails after accepting a request: for a stream, before its first event.
 */
async function cutAfterHeaders(res: ServerResponse, record: RequestRecord, delayMs: number): Promise<void> {
  if (delayMs > 0 && !(await delay(delayMs, record.signal))) return;
  const { entry, headers } = record;
  record.dropped = true;
  entry.status = 200;
  if (entry.stream) record.counters.streams++;
  const contentType = entry.stream ? "text/event-stream; charset=utf-8" : "application/json";
  res.writeHead(200, { ...headers, "content-type": contentType, ...(entry.stream ? { "cache-control": "no-cache" } : {}) });
  res.flushHeaders();
  // Let the headers reach the client first, so the cut falls after them.
  res.write("", () => setTimeout(() => res.socket?.destroy(), 5));
}

/**
 * Charges the request's estimate to the deployment's quota and says what remains in the headers.
 * @throws SimulatorHttpError 429 when the request or token window is full.
 */
function chargeQuota(
  runtime: DeploymentRuntime,
  prepared: Prepared,
  record: RequestRecord,
  operation: Operation,
  apiVersion: string | undefined,
): void {
  const decision = runtime.quota.tryCharge(prepared.chargeTokens);
  setRemainingHeaders(record, decision);
  if (!decision.ok) {
    record.entry.throttled = decision.reason;
    throw throttled(decision.reason, decision.retryAfterMs, operation, apiVersion, runtime.config);
  }
  record.entry.chargedTokens = prepared.chargeTokens;
}

/** What the operation's answer gets: the request, its latency model and faults, and writers that keep the journal and counters. */
function requestContext(
  state: SimulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  record: RequestRecord,
  runtime: DeploymentRuntime,
  operation: Operation,
  faults: ActiveFaults,
  requestRandom: Random,
  baseUrl: string,
): RequestContext {
  const { entry, headers, counters, signal } = record;
  const config = runtime.config;
  const latency: LatencyConfig = { ...DEFAULT_LATENCY, ...state.settings.latency, ...config.latency };
  const markDropped = () => (record.dropped = true);
  return {
    req,
    res,
    deployment: config,
    counters,
    operation,
    latency,
    faults,
    random: requestRandom,
    seed: state.settings.seed,
    signal,
    entry,
    baseUrl,
    headers,
    sampleMs: (mean) => sampleNonNegative(requestRandom, mean, mean * latency.stdDevRatio),
    sleep: (ms) => delay(ms, signal),
    sendJson: (status, body, extra) => {
      entry.status = status;
      writeBody(res, status, "application/json", JSON.stringify(body), { ...headers, ...extra }, faults, markDropped);
    },
    sendBytes: (status, type, bytes, extra) => {
      entry.status = status;
      writeBody(res, status, type, bytes, { ...headers, ...extra }, faults, markDropped);
    },
    recordUsage: (prompt, completion) => {
      entry.usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
      counters.promptTokens += prompt;
      counters.completionTokens += completion;
      counters.totalTokens += prompt + completion;
    },
    dropConnection: () => {
      record.dropped = true;
      entry.status = res.statusCode;
      // Let what was written reach the client first, so the cut falls mid-stream, not before the headers.
      res.write("", () => setTimeout(() => res.socket?.destroy(), 5));
    },
  };
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

/**
 * The host's HTTP front door: routing, function keys, limits, then the invocation through
 * `FrontInvoker` (the main thread runs the app). It runs in a worker thread of its own
 * (http-front-thread.ts), as the Functions host is a process of its own on Azure, so relaying
 * bytes to and from clients never takes the app's event loop.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { Transform } from "node:stream";
import { isAuthorized, type KeyPolicy } from "./function-keys.js";
import type { BufferedAnswer, HttpRouteInfo } from "./http-front-protocol.js";
import type { HostConfig } from "./host-config.js";
import { compileRoute, matchRoute, type CompiledRoute } from "./http-routes.js";
import { loopbackAgent } from "./loopback-agent.js";
import { rpcJson, rpcString } from "./invoke.js";
import type { RpcHttpData, RpcTypedData } from "./rpc-types.js";

interface HttpRoute {
  info: HttpRouteInfo;
  route: CompiledRoute;
  methods: Set<string>;
}

export interface InvocationRequest {
  invocationId: string;
  route: HttpRouteInfo;
  http: RpcHttpData;
  triggerMetadata: Record<string, RpcTypedData>;
}

/** Runs invocations for the front door (on the main thread, where the app lives). */
export interface FrontInvoker {
  /** The request itself travels to the library's proxy; resolves with whether the invocation succeeded. */
  invokeStreaming(request: InvocationRequest): Promise<boolean>;
  /** The client went away mid-response: cancel the handler's response stream. */
  cancel(invocationId: string, reason: string): void;
  /** The body travels in `http.body`; resolves with the response (null: none) or rejects when the invocation failed. */
  invokeBuffered(request: InvocationRequest): Promise<BufferedAnswer | null>;
}

export interface HttpFrontDeps {
  routes: HttpRouteInfo[];
  config: HostConfig;
  keys: KeyPolicy;
  /** The library's HTTP proxy (enableHttpStream); undefined means bodies travel in the invocation. */
  proxyUri: string | undefined;
  invoker: FrontInvoker;
  hostLog: (message: string) => void;
  /** Host runtime endpoints (`/runtime/webhooks/...`, `/admin/...`); return false when not handled. */
  runtimeEndpoints: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

/** Compiles the routes, most specific first. */
function compileRoutes(infos: HttpRouteInfo[]): HttpRoute[] {
  const routes = infos.map((info) => ({ info, route: compileRoute(info.template), methods: new Set(info.methods) }));
  // Literal segments win over parameters, parameters over catch-alls (ASP.NET route precedence).
  const rank = (route: HttpRoute) =>
    route.route.segments.map((segment) => (segment.kind === "literal" ? "0" : segment.catchAll ? "2" : "1")).join("") + "9";
  return routes.sort((first, second) => rank(first).localeCompare(rank(second)));
}

/** Builds the front-door request handler: routing, keys, body cap, then the invocation. */
export function createHttpFront(deps: HttpFrontDeps): http.RequestListener {
  const routes = compileRoutes(deps.routes);
  const prefix = deps.config.http.routePrefix;
  let outstanding = 0;
  const concurrency = createSemaphore(deps.config.http.maxConcurrentRequests ?? Infinity);

  const handler: http.RequestListener = (req, res) => {
    void (async () => {
      const url = requestUrl(req);
      if (!url || !hasValidEncoding(url.pathname))
        return sendText(res, 400, "Bad Request: the URL (or its Host header) is not valid, check its percent-encoding.");
      if (await deps.runtimeEndpoints(req, res, url)) return;
      // Still percent-encoded: matchRoute decodes each segment once, as the host does, so an
      // encoded '%' (%25) in a blob name stays a '%' instead of being decoded a second time.
      const routePath = stripPrefix(url.pathname, prefix);
      if (routePath === undefined) return sendText(res, 404, "Not Found");

      const method = (req.method ?? "GET").toUpperCase();
      let matched: { route: HttpRoute; params: Record<string, string> } | undefined;
      for (const route of routes) {
        if (route.methods.size > 0 && !route.methods.has(method)) continue;
        const params = matchRoute(route.route, routePath);
        if (params) {
          matched = { route, params };
          break;
        }
      }
      if (!matched) return sendText(res, 404, "Not Found");

      const suppliedKey = headerValue(req, "x-functions-key") ?? url.searchParams.get("code") ?? undefined;
      if (!isAuthorized(deps.keys, matched.route.info.authLevel, matched.route.info.functionName, suppliedKey)) {
        return sendText(res, 401, "Unauthorized: pass a function key in the x-functions-key header or the code query parameter.");
      }
      // host.json maxOutstandingRequests: beyond it the host answers 429 at once.
      if (outstanding >= (deps.config.http.maxOutstandingRequests ?? Infinity)) {
        return sendText(res, 429, "Too Many Requests: extensions.http.maxOutstandingRequests reached.");
      }
      outstanding++;
      res.once("close", () => outstanding--);
      // maxConcurrentRequests: the rest wait their turn; a slot is held until the response ends.
      await concurrency.acquire();
      if (res.destroyed) {
        concurrency.release(); // the client left while waiting
        return;
      }
      res.once("close", () => concurrency.release());

      const declaredLength = Number(req.headers["content-length"] ?? "0");
      if (declaredLength > deps.config.http.maxRequestBodyBytes) {
        // Declared up front: answer at once, before the client sends the body.
        return rejectTooLarge(res, deps.config.http.maxRequestBodyBytes, req, { drain: false });
      }
      if (deps.proxyUri) await invokeStreaming(deps, matched.route, matched.params, req, res, url);
      else await invokeBuffered(deps, matched.route, matched.params, req, res, url);
    })().catch((error: unknown) => {
      deps.hostLog(`Request ${req.method} ${pathForLog(req)} failed in the host: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) sendText(res, 500, "Internal Server Error");
      else res.destroy();
    });
  };
  return handler;
}

function stripPrefix(path: string, prefix: string): string | undefined {
  if (prefix === "") return path;
  const lower = path.toLowerCase();
  const want = `/${prefix.toLowerCase()}`;
  if (lower === want) return "";
  if (lower.startsWith(`${want}/`)) return path.slice(want.length);
  return undefined;
}

/** Trigger metadata for HTTP as the host sends it: Headers, Query, and each route parameter. */
function httpTriggerMetadata(req: IncomingMessage, url: URL, params: Record<string, string>): Record<string, RpcTypedData> {
  const metadata: Record<string, RpcTypedData> = {
    Headers: rpcJson(flatHeaders(req)),
    Query: rpcJson(Object.fromEntries(url.searchParams)),
  };
  for (const [name, value] of Object.entries(params)) metadata[name] = rpcString(value);
  return metadata;
}

function rpcHttpRequest(req: IncomingMessage, url: URL, params: Record<string, string>, body?: Buffer): RpcHttpData {
  return {
    method: req.method ?? "GET",
    url: url.toString(),
    headers: flatHeaders(req),
    query: Object.fromEntries(url.searchParams),
    params,
    ...(body ? { body: { bytes: body } } : {}),
  };
}

/**
 * Streaming path (enableHttpStream): the request is forwarded to the library's HTTP proxy with
 * `x-ms-invocation-id`, while the invocation runs; the proxy's response is relayed chunk by chunk.
 */
async function invokeStreaming(
  deps: HttpFrontDeps,
  route: HttpRoute,
  params: Record<string, string>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const invocationId = randomUUID();
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  }
  headers["x-ms-invocation-id"] = invocationId;
  headers["x-forwarded-host"] = req.headers.host ?? url.host;
  headers["x-forwarded-proto"] = "http";
  if (req.headers["content-length"] === undefined && hasBody(req)) headers["transfer-encoding"] = "chunked";

  // Path and query only: a request target such as //other-host/... must not choose the host.
  const proxyReq = http.request(new URL(url.pathname + url.search, deps.proxyUri), { method: req.method, headers, agent: loopbackAgent });
  // Sent now, not with the first body byte: the library waits for this request to start the
  // invocation, and a client that leaves before sending any body must not leave it waiting.
  proxyReq.flushHeaders();
  let clientGone = false;
  proxyReq.on("response", (proxyRes) => {
    if (clientGone) return proxyRes.resume();
    const outHeaders: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(proxyRes.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) outHeaders[name] = value;
    }
    res.writeHead(proxyRes.statusCode ?? 200, outHeaders);
    res.flushHeaders();
    // Each chunk is written as it arrives (no buffering), with backpressure towards the handler.
    proxyRes.pipe(res);
    proxyRes.on("error", () => res.destroy());
  });
  proxyReq.on("error", () => {
    /* reported through the invocation or the client disconnect below */
  });
  // A client that goes away mid-response closes the proxy connection, which the handler sees.
  res.on("close", () => {
    if (!res.writableFinished) {
      clientGone = true;
      proxyReq.destroy();
      deps.invoker.cancel(invocationId, "The client disconnected before the response was complete.");
    }
  });

  // Set once the body is over the cap: the 413 then waits for the client to finish sending, and
  // the invocation, whose body was cut, must not answer 500 first.
  let bodyTooLarge = false;
  const tooLarge = forwardBody(req, proxyReq, deps.config.http.maxRequestBodyBytes);
  // A handler may answer without reading the whole body, and the library never reads the rest.
  // Once the answer is complete, stop forwarding and discard the rest, as the Functions host
  // does: otherwise the client's next request on this connection waits behind the unread body.
  res.on("finish", () => {
    if (req.readableEnded) return;
    proxyReq.destroy();
    discardRestOfBody(req, deps.config.http.maxRequestBodyBytes);
  });
  tooLarge.then(
    (exceeded) => {
      if (exceeded && !res.headersSent) {
        bodyTooLarge = true;
        proxyReq.destroy();
        rejectTooLarge(res, deps.config.http.maxRequestBodyBytes, req);
      }
    },
    () => proxyReq.destroy(),
  );

  // The library writes the whole response through the proxy; a handler that returned nothing
  // gets its proxied request ended with 204 by the main thread, relayed as usual.
  const succeeded = await deps.invoker.invokeStreaming({
    invocationId,
    route: route.info,
    http: rpcHttpRequest(req, url, params),
    triggerMetadata: httpTriggerMetadata(req, url, params),
  });
  if (!succeeded) {
    // Logged by the invocation; the client gets the host's bare 500 (or a cut stream).
    proxyReq.destroy();
    if (bodyTooLarge) return;
    if (!res.headersSent && !clientGone) sendText(res, 500, "Internal Server Error");
    else if (!res.writableFinished) res.destroy();
  }
}

/** Non-streaming path: the body travels inside the RPC message and the response comes back in it. */
async function invokeBuffered(
  deps: HttpFrontDeps,
  route: HttpRoute,
  params: Record<string, string>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Leaving a for-await destroys the request, and a client still uploading then sees EPIPE
    // instead of our 413: hand the rest of the body to rejectTooLarge to drain.
    if (size > deps.config.http.maxRequestBodyBytes) break;
    chunks.push(chunk);
  }
  if (size > deps.config.http.maxRequestBodyBytes) return rejectTooLarge(res, deps.config.http.maxRequestBodyBytes, req);
  const invocationId = randomUUID();
  try {
    const answer = await deps.invoker.invokeBuffered({
      invocationId,
      route: route.info,
      http: rpcHttpRequest(req, url, params, Buffer.concat(chunks)),
      triggerMetadata: httpTriggerMetadata(req, url, params),
    });
    if (!answer) return sendText(res, 204, "");
    res.writeHead(answer.status, { ...answer.headers, "x-ms-invocation-id": invocationId });
    res.end(answer.body);
  } catch {
    // Logged by the invocation; the caller gets the host's bare 500.
    if (!res.headersSent) sendText(res, 500, "Internal Server Error");
  }
}

/** Pipes the request body to the proxy, stopping at the cap; resolves true when the cap was exceeded. */
function forwardBody(req: IncomingMessage, proxyReq: http.ClientRequest, cap: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > cap) {
          callback();
          counter.destroy();
          req.unpipe(counter);
          resolve(true);
          return;
        }
        callback(null, chunk);
      },
    });
    counter.on("end", () => resolve(false));
    counter.on("error", reject);
    req.on("error", reject);
    req.pipe(counter).pipe(proxyReq);
  });
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** How much of an oversized upload is read and discarded so the client can read the 413. */
const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Reads and drops the rest of a request body, so the connection can carry the next request. A
 * chunked body that runs past the body cap closes the connection instead (a declared length over
 * the cap was refused before the invocation).
 */
function discardRestOfBody(req: IncomingMessage, cap: number): void {
  req.unpipe();
  let discarded = 0;
  req.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > cap) req.socket.destroy();
  });
  req.resume();
}

function rejectTooLarge(res: ServerResponse, cap: number, req: IncomingMessage, options = { drain: true }): void {
  if (res.headersSent) return;
  const send = () => {
    if (res.headersSent) return;
    // JSON in the error shape the app's own routes answer (OpenAI's), so clients parse one kind of error.
    res.writeHead(413, { "content-type": "application/json; charset=utf-8", connection: "close" });
    res.end(
      JSON.stringify({
        error: {
          message: `Request body too large: the limit is ${cap} bytes. Send less.`,
          type: "invalid_request_error",
          param: null,
          code: "request_too_large",
        },
      }),
    );
  };
  req.unpipe();
  if (!options.drain || req.destroyed || req.readableEnded) {
    send();
    req.resume();
    return;
  }
  // Answer once the client has finished sending (as Kestrel does for modest overruns): closing
  // while it still writes makes most clients report a broken pipe instead of the 413. A client
  // that keeps sending past the drain limit gets the answer and the connection closed.
  let drained = 0;
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) send();
  });
  req.once("end", send);
  req.once("error", send);
  req.resume();
}

/** The request's URL, or undefined when it (or the Host header it is resolved against) is not valid. */
export function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
  } catch {
    return undefined;
  }
}

function hasValidEncoding(pathname: string): boolean {
  try {
    // The result is used: rolldown drops a call to a built-in whose result is unused, throw or not.
    return typeof decodeURIComponent(pathname) === "string";
  } catch {
    return false; // malformed percent-encoding such as %E0
  }
}

/** The request's path without its query string, which may carry a key (`?code=`). */
export function pathForLog(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0]!;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}

/** A counting semaphore: acquire waits (FIFO) while `limit` holders are active. */
function createSemaphore(limit: number): { acquire(): Promise<void>; release(): void } {
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    acquire() {
      if (active < limit) {
        active++;
        return Promise.resolve();
      }
      return new Promise((resolve) => waiting.push(() => resolve()));
    },
    release() {
      const next = waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else active--;
    },
  };
}

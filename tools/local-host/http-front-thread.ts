/**
 * The worker thread that runs the host's HTTP front door (http-server.ts). Invocations are asked
 * of the main thread (http-invocations.ts); host endpoints (`/runtime/...`, `/admin/...`) are
 * relayed to the main thread's own small server, since they drive the main thread's triggers.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { parentPort, workerData } from "node:worker_threads";
import type { BufferedAnswer, FrontMessage, FrontThreadData, MainMessage } from "./http-front-protocol.js";
import { createHttpFront, sendText, type FrontInvoker } from "./http-server.js";
import { loopbackAgent } from "./loopback-agent.js";

const data = workerData as FrontThreadData;
const port = parentPort!;
const send = (message: FrontMessage) => port.postMessage(message);

const streaming = new Map<string, (succeeded: boolean) => void>();
const buffered = new Map<string, { resolve: (answer: BufferedAnswer | null) => void; reject: (error: Error) => void }>();

const invoker: FrontInvoker = {
  invokeStreaming(request) {
    return new Promise((resolve) => {
      streaming.set(request.invocationId, resolve);
      send({
        type: "invoke-streaming",
        invocationId: request.invocationId,
        functionName: request.route.functionName,
        triggerName: request.route.triggerName,
        http: request.http,
        triggerMetadata: request.triggerMetadata,
      });
    });
  },
  cancel(invocationId, reason) {
    send({ type: "cancel", invocationId, reason });
  },
  invokeBuffered(request) {
    return new Promise((resolve, reject) => {
      buffered.set(request.invocationId, { resolve, reject });
      send({
        type: "invoke-buffered",
        invocationId: request.invocationId,
        functionName: request.route.functionName,
        triggerName: request.route.triggerName,
        http: request.http,
        triggerMetadata: request.triggerMetadata,
      });
    });
  },
};

port.on("message", (message: MainMessage) => {
  if (message.type === "finished") {
    streaming.get(message.invocationId)?.(message.succeeded);
    streaming.delete(message.invocationId);
  } else if (message.type === "answered") {
    const pending = buffered.get(message.invocationId);
    buffered.delete(message.invocationId);
    if (message.succeeded) pending?.resolve(message.answer);
    else pending?.reject(new Error("The invocation failed."));
  }
});

/** Relays `/runtime/...` and `/admin/...` to the main thread's server; false for anything else. */
async function runtimeEndpoints(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname.toLowerCase();
  if (!path.startsWith("/runtime/") && !path.startsWith("/admin/")) return false;
  await new Promise<void>((resolve) => {
    // Path and query only: a request target such as //other-host/... must not choose the host.
    const relay = http.request(
      new URL(url.pathname + url.search, data.runtimeUri),
      { method: req.method, headers: req.headers, agent: loopbackAgent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on("end", resolve);
        answer.on("error", () => {
          res.destroy();
          resolve();
        });
      },
    );
    relay.on("error", (error) => {
      if (!res.headersSent) sendText(res, 502, `The host's runtime endpoint failed: ${error.message}`);
      else res.destroy();
      resolve();
    });
    req.pipe(relay);
  });
  return true;
}

const handler = createHttpFront({
  routes: data.routes,
  config: data.config,
  keys: data.keys,
  proxyUri: data.proxyUri,
  invoker,
  hostLog: (message) => send({ type: "log", message }),
  runtimeEndpoints,
});

const server = http.createServer({ requestTimeout: 0 }, handler);
server.once("error", (error: NodeJS.ErrnoException) => {
  send({
    type: "failed",
    message:
      error.code === "EADDRINUSE"
        ? `Port ${data.port} is already in use; set FUNCTIONS_PORT to a free port (or stop the other process).`
        : error.message,
  });
});
server.listen(data.port, "127.0.0.1", () => {
  const address = server.address();
  send({ type: "listening", port: typeof address === "object" && address ? address.port : data.port });
});

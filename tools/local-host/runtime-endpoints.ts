/**
 * The host endpoints that drive this process's triggers, served on the main thread by a small
 * HTTP server on an ephemeral loopback port: the blob trigger's Event Grid webhook
 * (`POST /runtime/webhooks/blobs`) and `/admin/...` (host status), each behind its function keys.
 * They live here, beside the triggers they reach; the front door (its own thread) relays them.
 */
import http from "node:http";
import type { BlobTriggerHost } from "./blob-trigger.js";
import { isAuthorizedForAdmin, isAuthorizedForRuntime, type KeyPolicy } from "./function-keys.js";
import { pathForLog, requestUrl, sendText } from "./http-server.js";

export interface RuntimeEndpointDeps {
  keys: KeyPolicy;
  /** The blob trigger hosts, by connection; the webhook finds the one that runs the named function. */
  blobHosts: ReadonlyMap<string, BlobTriggerHost>;
  hostId: string;
  hostLog: (message: string) => void;
}

/** Starts the server on 127.0.0.1 (a free port); resolves with it and its port once it listens. */
export async function startRuntimeEndpoints(deps: RuntimeEndpointDeps): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    const url = requestUrl(req);
    if (!url) return sendText(res, 400, "Bad Request: the URL is not valid.");
    serveRuntimeEndpoint(deps, req, res, url).then(
      (handled) => {
        if (!handled) sendText(res, 404, "Not Found");
      },
      (error: unknown) => {
        deps.hostLog(
          `Request ${req.method} ${pathForLog(req)} failed in the host: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        if (!res.headersSent) sendText(res, 500, "Internal Server Error");
        else res.destroy();
      },
    );
  });
  const port = await listen(server, 0);
  return { server, port };
}

/** @returns false when no endpoint here answers the path (the caller answers 404). */
async function serveRuntimeEndpoint(
  deps: RuntimeEndpointDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<boolean> {
  const lowerPath = url.pathname.toLowerCase();
  if (lowerPath === "/runtime/webhooks/blobs" && req.method === "POST") {
    const key = url.searchParams.get("code") ?? (req.headers["x-functions-key"] as string | undefined);
    if (!isAuthorizedForRuntime(deps.keys, key)) {
      sendText(res, 401, "Unauthorized: the blob webhook needs the master key or a host key in ?code=.");
      return true;
    }
    const name = (url.searchParams.get("functionName") ?? "").replace(/^Host\.Functions\./i, "").toLowerCase();
    const owner = [...deps.blobHosts.values()].find((host) =>
      host.functions.some((blobFunction) => blobFunction.fn.metadata.name.toLowerCase() === name),
    );
    if (owner) await owner.handleWebhook(req, res, url);
    else sendText(res, 404, `No blob trigger function named "${url.searchParams.get("functionName") ?? ""}".`);
    return true;
  }
  if (lowerPath.startsWith("/admin/")) {
    const key = (req.headers["x-functions-key"] as string | undefined) ?? url.searchParams.get("code") ?? undefined;
    if (!isAuthorizedForAdmin(deps.keys, key)) {
      sendText(res, 401, "Unauthorized: admin endpoints need the master key, in the x-functions-key header or ?code=.");
      return true;
    }
  }
  if (lowerPath === "/admin/host/status") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ state: "Running", id: deps.hostId }));
    return true;
  }
  return false;
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`Port ${port} is already in use; set FUNCTIONS_PORT to a free port (or stop the other process).`)
          : error,
      );
    });
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

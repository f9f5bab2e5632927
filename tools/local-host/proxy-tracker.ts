/**
 * Watches the HTTP proxy that `@azure/functions` starts for streamed HTTP responses: keeps it on
 * loopback, notices a proxied request the handler left unanswered, and makes a write after the
 * client left throw, so the handler's stream is cancelled as it would be on Azure.
 */
import http, { type ServerResponse } from "node:http";

/** Watches the library's HTTP proxy (its server is created inside `getCapabilities`). */
export interface ProxyTracker {
  /**
   * Called once an invocation is over: true when the library never answered the proxied request
   * (the handler returned nothing or failed); that response is then ended with `status`.
   */
  finishUnanswered(invocationId: string, status?: number): boolean;
}

/**
 * Runs `action` (the library's getCapabilities) while watching which HTTP server it creates, so
 * the host can: bind it to loopback only; notice when a handler left the proxied request
 * unanswered; and, when the client disconnected, make the proxy's `write` throw so the library
 * stops draining and cancels the handler's response stream (the "closed stream" the handler sees).
 */
export async function captureLibraryProxy<T>(action: () => Promise<T>): Promise<{ result: T; tracker: ProxyTracker }> {
  const pending = new Map<string, ServerResponse>();
  const originalCreateServer = http.createServer;
  const patched = function createServerWatched(this: unknown, ...args: unknown[]) {
    const server = (originalCreateServer as (...a: unknown[]) => http.Server).apply(this, args);
    watchServer(server, pending);
    return server;
  };
  (http as { createServer: unknown }).createServer = patched;
  let result: T;
  try {
    result = await action();
  } finally {
    (http as { createServer: unknown }).createServer = originalCreateServer;
  }
  return {
    result,
    tracker: {
      finishUnanswered(invocationId, status = 204) {
        const res = pending.get(invocationId);
        pending.delete(invocationId);
        if (!res) return true;
        if (res.headersSent) return false;
        res.statusCode = status;
        res.end();
        return true;
      },
    },
  };
}

function watchServer(server: http.Server, pending: Map<string, ServerResponse>): void {
  const originalListen = server.listen.bind(server) as (...a: unknown[]) => http.Server;
  // The library listens on all interfaces; the local host keeps every server on loopback.
  (server as { listen: unknown }).listen = (...args: unknown[]) => {
    const callback = typeof args[args.length - 1] === "function" ? args[args.length - 1] : undefined;
    const port = typeof args[0] === "number" ? args[0] : 0;
    return callback ? originalListen(port, "127.0.0.1", callback) : originalListen(port, "127.0.0.1");
  };
  server.prependListener("request", (req: http.IncomingMessage, res: ServerResponse) => {
    const invocationId = req.headers["x-ms-invocation-id"];
    if (typeof invocationId !== "string") return;
    pending.set(invocationId, res);
    res.on("finish", () => pending.delete(invocationId));
    const originalWrite = res.write.bind(res) as (...a: unknown[]) => boolean;
    (res as { write: unknown }).write = (...args: unknown[]) => {
      if (res.destroyed || res.socket === null || res.socket.destroyed) {
        throw new Error("The client disconnected before the response was complete.");
      }
      return originalWrite(...args);
    };
  });
}

import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { callerGoneSignal, watchCallerDisconnects } from "../../src/http/client-disconnect.js";

/**
 * A stand-in for the worker's HTTP proxy: a real Node HTTP server receiving requests tagged with
 * `x-ms-invocation-id`, whose handler keeps the response open like a streaming function.
 */
let server: http.Server | undefined;

afterEach(async () => {
  const closing = server;
  server = undefined;
  if (!closing) return;
  closing.closeAllConnections();
  await new Promise((resolve) => closing.close(resolve));
});

async function proxyLike(onRequest: (res: http.ServerResponse, signal: AbortSignal) => void): Promise<number> {
  watchCallerDisconnects();
  server = http.createServer((req, res) => {
    const signal = callerGoneSignal(String(req.headers["x-ms-invocation-id"]));
    onRequest(res, signal);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("callerGoneSignal", () => {
  it("fires when the forwarded request's connection closes before the response ended", async () => {
    let signal: AbortSignal | undefined;
    const aborted = new Promise<void>((resolve) => {
      void proxyLike((res, s) => {
        signal = s;
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(": first\n\n");
        s.addEventListener("abort", () => resolve());
      }).then((port) => {
        const request = http.get({ port, host: "127.0.0.1", headers: { "x-ms-invocation-id": "inv-1" } }, (response) => {
          response.once("data", () => request.destroy());
        });
        request.on("error", () => undefined);
      });
    });
    await aborted;
    expect(signal!.aborted).toBe(true);
  });

  it("fires while the handler has not answered yet (waiting for the first token)", async () => {
    const aborted = new Promise<void>((resolve) => {
      void proxyLike((_res, s) => s.addEventListener("abort", () => resolve())).then((port) => {
        const request = http.get({ port, host: "127.0.0.1", headers: { "x-ms-invocation-id": "inv-2" } });
        request.on("error", () => undefined);
        setTimeout(() => request.destroy(), 50);
      });
    });
    await aborted;
  });

  it("does not fire when the response completed", async () => {
    let signal: AbortSignal | undefined;
    const port = await proxyLike((res, s) => {
      signal = s;
      res.end("done");
    });
    const body = await fetch(`http://127.0.0.1:${port}/`, { headers: { "x-ms-invocation-id": "inv-3" } }).then((r) => r.text());
    expect(body).toBe("done");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(signal!.aborted).toBe(false);
  });

  it("is already aborted when claimed after the caller hung up (e.g. while the body was read)", async () => {
    let closed!: () => void;
    const responseClosed = new Promise<void>((resolve) => (closed = resolve));
    const port = await proxyLike(() => undefined);
    server!.removeAllListeners("request");
    server!.on("request", (_req: http.IncomingMessage, res: http.ServerResponse) => res.once("close", () => closed()));
    const request = http.get({ port, host: "127.0.0.1", headers: { "x-ms-invocation-id": "inv-late" } });
    request.on("error", () => undefined);
    setTimeout(() => request.destroy(), 50);
    await responseClosed;
    // The handler only now asks for its signal: it must learn that nobody is waiting any more.
    expect(callerGoneSignal("inv-late").aborted).toBe(true);
    // Claimed once, the entry is released: the id does not stay aborted forever.
    expect(callerGoneSignal("inv-late").aborted).toBe(false);
  });

  it("never fires for an invocation that no proxied request belongs to", () => {
    expect(callerGoneSignal("not-proxied").aborted).toBe(false);
  });
});

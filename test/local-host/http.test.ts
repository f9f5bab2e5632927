import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHost, type LocalHost } from "../../tools/local-host/index.js";

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "http-app");

describe("local host: HTTP triggers", () => {
  let host: LocalHost;
  const logs: string[] = [];

  beforeAll(async () => {
    host = await startHost({ entry: "index.mjs", cwd: fixture, port: 0, onLog: (line) => logs.push(line) });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it("routes with the prefix, constraints, catch-all parameters and methods", async () => {
    const byId = await fetch(`${host.url}/api/items/42/a/b%20c?q=x`);
    expect(byId.status).toBe(200);
    const body = (await byId.json()) as { params: Record<string, string>; query: Record<string, string>; functionName: string };
    expect(body.params).toEqual({ id: "42", rest: "a/b c" });
    expect(body.query).toEqual({ q: "x" });
    expect(body.functionName).toBe("items");

    // Each segment is decoded once: an encoded '%' stays a '%' (it used to be decoded again).
    const percent = (await (await fetch(`${host.url}/api/items/42/percent%2541.wav/%2541%20x`)).json()) as {
      params: Record<string, string>;
    };
    expect(percent.params).toEqual({ id: "42", rest: "percent%41.wav/%41 x" });
    expect((await fetch(`${host.url}/api/%69tems/42/a`)).status).toBe(200); // literals compare decoded

    const byName = await fetch(`${host.url}/api/ITEMS/abc`);
    expect(await byName.json()).toEqual({ name: "abc" });

    expect((await fetch(`${host.url}/api/items/4x2`)).status).toBe(404); // neither int nor alpha
    expect((await fetch(`${host.url}/items/42/a`)).status).toBe(404); // no route prefix
    expect((await fetch(`${host.url}/api/items/42/a`, { method: "DELETE" })).status).toBe(404); // method not allowed
  });

  it("does not enforce keys by default, like Core Tools", async () => {
    const response = await fetch(`${host.url}/api/secret`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("the secret");
  });

  it("runs app and invocation hooks, letting a post-invocation hook replace the result", async () => {
    const hooked = await fetch(`${host.url}/api/hooked`);
    expect(hooked.headers.get("x-post-hook")).toBe("ran");
    const state = (await (await fetch(`${host.url}/api/state`)).json()) as Record<string, unknown>;
    expect(state.appStarted).toBe(true);
    expect(state.preInvocations).toBeGreaterThanOrEqual(2);
    expect(state.postInvocations).toBeGreaterThanOrEqual(1);
  });

  it("answers 204 when a streaming-mode handler returns nothing", async () => {
    const response = await fetch(`${host.url}/api/empty`);
    expect(response.status).toBe(204);
  });

  it("answers 500 when the handler throws", async () => {
    const response = await fetch(`${host.url}/api/fails`);
    expect(response.status).toBe(500);
    expect(logs.some((l) => l.includes("this handler always fails"))).toBe(true);
  });

  it("relays streamed chunks as they are produced", async () => {
    const gap = 250;
    const arrivals: Array<{ index: number; producedAt: number; arrivedAt: number }> = [];
    const response = await fetch(`${host.url}/api/stream?count=5&gap=${gap}`);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const event = JSON.parse(text.slice(0, end).replace(/^data: /, "")) as { index: number; producedAt: number };
        arrivals.push({ ...event, arrivedAt: Date.now() });
        text = text.slice(end + 2);
      }
    }
    expect(arrivals.map((a) => a.index)).toEqual([0, 1, 2, 3, 4]);
    // Each chunk reaches the client within a short time of being produced...
    for (const a of arrivals) expect(a.arrivedAt - a.producedAt).toBeLessThan(gap * 0.6);
    // ...so the first arrives long before the last is produced.
    expect(arrivals[4]!.arrivedAt - arrivals[0]!.arrivedAt).toBeGreaterThanOrEqual(gap * 4 * 0.8);
  });

  it("makes a client disconnect visible to the handler as a cancelled response stream", async () => {
    const controller = new AbortController();
    const response = await fetch(`${host.url}/api/stream?count=50&gap=100`, { signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const state = (await (await fetch(`${host.url}/api/state`)).json()) as { streamCancelled: boolean; streamChunksProduced: number };
    expect(state.streamCancelled).toBe(true);
    expect(state.streamChunksProduced).toBeLessThan(20);
  });

  it("records every stream its client abandoned as Failed, as Azure's host does, never sometimes Succeeded", async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const controller = new AbortController();
      const response = await fetch(`${host.url}/api/stream?count=20&gap=${i % 2 === 0 ? 5 : 50}`, { signal: controller.signal });
      const reader = response.body!.getReader();
      await reader.read();
      const id = response.headers.get("x-ms-invocation-id") ?? "";
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 400));
      outcomes.push(
        logs.find(
          (line) => line.includes("Executed 'Host.Functions.stream'") && (id === "" || line.includes(id)) && !outcomes.includes(line),
        ) ?? "none",
      );
    }
    expect(outcomes.filter((line) => !line.includes("(Failed,"))).toEqual([]);
  });

  it("passes request bodies through and caps them at 100 MB (413, checked on Content-Length)", async () => {
    const small = await fetch(`${host.url}/api/upload`, { method: "POST", body: Buffer.alloc(300_000, 1) });
    expect(await small.json()).toEqual({ bytes: 300_000 });

    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${host.url}/api/upload`, {
        method: "POST",
        headers: { "content-length": String(100 * 1024 * 1024 + 1) },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write(Buffer.alloc(1024));
    });
    expect(status).toBe(413);
  });

  it("keeps a connection usable after a handler answers without reading a large body", async () => {
    // One socket: the second request must travel on the connection the unread body arrived on.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (route: string, body: Buffer) =>
      new Promise<string>((resolve, reject) => {
        const req = http.request(
          `${host.url}/api/${route}`,
          { method: "POST", agent, headers: { "content-length": body.length } },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (data: string) => (text += data));
            res.on("end", () => resolve(`${res.statusCode} ${text}`));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    try {
      // Far more than the socket and stream buffers between client, front door and library hold.
      expect(await post("ignores-body", Buffer.alloc(40_000_000, 1))).toBe("200 not read");
      const started = performance.now();
      expect(await post("upload", Buffer.alloc(1000, 1))).toBe('200 {"bytes":1000}');
      // Not after a timeout somewhere along the way closed the stalled connection (about 6 s).
      expect(performance.now() - started).toBeLessThan(3_000);
    } finally {
      agent.destroy();
    }
  });
});

describe("local host: HTTP limits and keys switched on", () => {
  let host: LocalHost;

  beforeAll(async () => {
    host = await startHost({
      entry: "index.mjs",
      cwd: fixture,
      port: 0,
      enforceKeys: true,
      keys: { master: "master-key", default: "host-key", functions: { secret: "secret-fn-key" } },
      maxRequestBodyBytes: 64 * 1024,
    });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it("rejects a function-level route without a key and accepts function, host and master keys", async () => {
    expect((await fetch(`${host.url}/api/secret`)).status).toBe(401);
    expect((await fetch(`${host.url}/api/secret`, { headers: { "x-functions-key": "wrong" } })).status).toBe(401);
    expect((await fetch(`${host.url}/api/secret`, { headers: { "x-functions-key": "secret-fn-key" } })).status).toBe(200);
    expect((await fetch(`${host.url}/api/secret?code=host-key`)).status).toBe(200);
    expect((await fetch(`${host.url}/api/secret?code=master-key`)).status).toBe(200);
    // Anonymous routes stay open.
    expect((await fetch(`${host.url}/api/state`)).status).toBe(200);
  });

  it("guards admin endpoints with the master key only, as on Azure", async () => {
    const status = `${host.url}/admin/host/status`;
    expect((await fetch(status)).status).toBe(401);
    expect((await fetch(status, { headers: { "x-functions-key": "secret-fn-key" } })).status).toBe(401);
    expect((await fetch(status, { headers: { "x-functions-key": "host-key" } })).status).toBe(401);
    expect((await fetch(`${host.url}/ADMIN/host/status?code=host-key`)).status).toBe(401);
    const allowed = await fetch(status, { headers: { "x-functions-key": "master-key" } });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ state: "Running" });
    expect((await fetch(`${status}?code=master-key`)).status).toBe(200);
  });

  it("guards the blob webhook with the master or host key", async () => {
    const webhook = `${host.url}/runtime/webhooks/blobs?functionName=Host.Functions.none`;
    expect((await fetch(webhook, { method: "POST", body: "[]" })).status).toBe(401);
    expect((await fetch(`${webhook}&code=secret-fn-key`, { method: "POST", body: "[]" })).status).toBe(401);
    // Past the key check: this app has no such blob function.
    expect((await fetch(`${webhook}&code=host-key`, { method: "POST", body: "[]" })).status).toBe(404);
  });

  it("counts chunked bodies against the cap", async () => {
    const underCap = await fetch(`${host.url}/api/upload`, { method: "POST", body: Buffer.alloc(60 * 1024, 2) });
    expect(await underCap.json()).toEqual({ bytes: 60 * 1024 });

    // The client pauses once past the cap: the 413 waits for the whole upload, and the cut-off
    // invocation failing in the meantime must not answer first.
    const chunks = async function* () {
      for (let i = 0; i < 10; i++) {
        yield Buffer.alloc(16 * 1024, 3);
        if (i === 5) await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    const overCap = await fetch(`${host.url}/api/upload`, {
      method: "POST",
      body: ReadableStream.from(chunks()),
      duplex: "half",
    } as RequestInit);
    expect(overCap.status).toBe(413);
    // The host's own 413 is JSON in the same error shape as the app's routes, not text/plain.
    expect(overCap.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await overCap.json()).toEqual({
      error: {
        message: expect.stringContaining("the limit is 65536 bytes"),
        type: "invalid_request_error",
        param: null,
        code: "request_too_large",
      },
    });
  });
});

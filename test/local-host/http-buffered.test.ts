import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHost, type LocalHost } from "../../tools/local-host/index.js";

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "http-buffered-app");

describe("local host: HTTP without streaming, empty route prefix, concurrency limits", () => {
  let host: LocalHost;

  beforeAll(async () => {
    host = await startHost({ entry: "index.mjs", cwd: fixture, port: 0 });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it("passes body, params and query in the RPC message and returns status, headers and body", async () => {
    const response = await fetch(`${host.url}/echo/hello?q=1`, { method: "POST", body: "some text" });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-word")).toBe("hello");
    expect(await response.json()).toEqual({ word: "hello", body: "some text", q: "1" });
    expect((await fetch(`${host.url}/api/echo/hello`, { method: "POST" })).status).toBe(404);
  });

  it("answers 204 when the handler returns nothing", async () => {
    expect((await fetch(`${host.url}/nothing`)).status).toBe(204);
  });

  it("honours maxConcurrentRequests (one at a time) and maxOutstandingRequests (429 beyond two)", async () => {
    const responses = await Promise.all([0, 1, 2].map(() => fetch(`${host.url}/slow`)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const runs = await Promise.all(
      responses.filter((r) => r.status === 200).map((r) => r.json() as Promise<{ startedAt: number; endedAt: number }>),
    );
    runs.sort((a, b) => a.startedAt - b.startedAt);
    expect(runs[1]!.startedAt).toBeGreaterThanOrEqual(runs[0]!.endedAt - 5);
  });
});

describe("local host: body cap without streaming", () => {
  let host: LocalHost;

  beforeAll(async () => {
    host = await startHost({ entry: "index.mjs", cwd: fixture, port: 0, maxRequestBodyBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it("answers 413 to a chunked upload over the cap, after reading it, not a broken connection", async () => {
    const chunks = async function* () {
      for (let i = 0; i < 10; i++) {
        yield Buffer.alloc(16 * 1024, 7);
        if (i === 5) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    const response = await fetch(`${host.url}/echo/big`, {
      method: "POST",
      body: ReadableStream.from(chunks()),
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.text()).toMatch(/limit is 65536 bytes/);
  });

  it("answers 400, not 500, to a path with malformed percent-encoding", async () => {
    const response = await fetch(`${host.url}/echo/%E0`, { method: "POST", body: "x" });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/percent-encoding/);
  });
});

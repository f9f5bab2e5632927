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

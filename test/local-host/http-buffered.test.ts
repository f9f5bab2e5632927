import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
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

describe("local host lifetime", () => {
  it("exits, freeing its port, when the process that started it is killed (no orphan host)", async () => {
    const index = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/tools/local-host/index.js");
    if (!existsSync(index)) throw new Error(`${index} is missing: run "npm run build" (npm test does) before this test.`);
    const script = `const { startHost } = await import(${JSON.stringify(pathToFileURL(index).href)});
      const host = await startHost({ entry: "index.mjs", cwd: ${JSON.stringify(fixture)}, port: 0 });
      console.log(host.url);`;
    const parent = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        parent.stdout.once("data", (data: Buffer) => resolve(data.toString().trim()));
        parent.once("exit", (code) => reject(new Error(`the parent exited (${code}) before the host was ready`)));
      });
      expect((await fetch(`${url}/nothing`)).status).toBe(204);
      parent.kill("SIGKILL");
      const deadline = Date.now() + 10_000;
      let gone = false;
      while (!gone && Date.now() < deadline) {
        // A bare connect: a request would make the host log, and writing to the dead parent's pipe
        // could end it for another reason.
        gone = await new Promise<boolean>((resolve) => {
          const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
          socket.once("connect", () => (socket.destroy(), resolve(false)));
          socket.once("error", () => resolve(true));
        });
        if (!gone) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(gone).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});

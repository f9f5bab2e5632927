/**
 * Every request under /api/v1 that no route serves is answered in OpenAI's error shape (404, or
 * 405 with `allow` for a known route called with the wrong method), never the host's plain text:
 * through the local host with keys enforced, with the official `openai` client and raw fetch.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import OpenAI, { NotFoundError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES } from "../../src/http/api-routes.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { startStack, type Stack } from "../support/stack.js";

const KEY = "test-function-key-0123456789";
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ host: { enforceKeys: true, keys: { default: KEY } } });
});

afterAll(async () => {
  await stack?.stop();
});

async function call(
  method: string,
  route: string,
  withKey = true,
): Promise<{ status: number; type: string | null; allow: string | null; body: unknown }> {
  const response = await fetch(`${stack.host.url}/api/v1/${route}`, {
    method,
    headers: { "content-type": "application/json", ...(withKey ? { "x-functions-key": KEY } : {}) },
    ...(method === "GET" || method === "HEAD" ? {} : { body: "{}" }),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    allow: response.headers.get("allow"),
    body: text ? JSON.parse(text) : undefined,
  };
}

describe("unknown routes and methods under /api/v1", () => {
  it.each(["audio/voices", "chat/completion", "nothing/here/at/all", "", "responses/resp_1/input_items/extra"])(
    "POST /api/v1/%s -> 404 JSON with code unknown_url, listing what is served",
    async (route) => {
      const answer = await call("POST", route);
      expect(answer.status).toBe(404);
      expect(answer.type).toMatch(/^application\/json/);
      expect(answer.body).toMatchObject({ error: { type: "invalid_request_error", code: "unknown_url", param: null } });
      expect((answer.body as { error: { message: string } }).error.message).toContain("POST /api/v1/chat/completions");
    },
  );

  it.each<[string, string, string]>([
    ["GET", "chat/completions", "POST"],
    ["DELETE", "embeddings", "POST"],
    ["POST", "models", "GET"],
    ["PUT", "responses/resp_123", "GET, DELETE"],
    ["POST", "responses/resp_123/input_items", "GET"],
  ])("%s /api/v1/%s -> 405 JSON, allow: %s", async (method, route, allow) => {
    const answer = await call(method, route);
    expect(answer.status).toBe(405);
    expect(answer.allow).toBe(allow);
    expect(answer.body).toMatchObject({ error: { type: "invalid_request_error", code: "method_not_allowed" } });
  });

  it("needs no function key: a wrong URL says so rather than asking for a key", async () => {
    expect((await call("GET", "no-such-route", false)).status).toBe(404);
  });

  it("the official client raises its NotFoundError with the message", async () => {
    const client = new OpenAI({
      baseURL: `${stack.host.url}/api/v1`,
      apiKey: "unused",
      defaultHeaders: { "x-functions-key": KEY },
      maxRetries: 0,
    });
    const error = await client.vectorStores.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toMatch(/Invalid URL \(GET \/api\/v1\/vector_stores\)/);
  });

  it("the catch-all's table lists exactly the routes the functions register under v1", () => {
    const registered: Array<{ template: string; methods: string[] }> = [];
    const dir = path.join(REPO_ROOT, "src/functions");
    for (const file of readdirSync(dir).filter((name) => name.endsWith(".ts"))) {
      const source = readFileSync(path.join(dir, file), "utf8");
      for (const match of source.matchAll(/route: "v1\/([^"]+)",\s*methods: \[([^\]]*)\]/g)) {
        if (match[1]!.startsWith("{*")) continue; // the catch-all itself
        registered.push({
          template: match[1]!.replace("{model?}", "{model}"),
          methods: match[2]!.match(/"([A-Z]+)"/g)!.map((m) => m.slice(1, -1)),
        });
      }
    }
    // models/{model?} serves both the list and one model.
    const expected = registered.flatMap((r) => (r.template === "models/{model}" ? [{ template: "models", methods: r.methods }, r] : [r]));
    const table = API_ROUTES.map((r) => ({ template: r.template, methods: [...r.methods] }));
    const byTemplate = (a: { template: string }, b: { template: string }) => a.template.localeCompare(b.template);
    expect(table.sort(byTemplate)).toEqual(expected.sort(byTemplate));
  });
});

import { RateLimitError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, startFast, unexpected } from "./helpers.js";

// Small quotas over a short window keep these tests quick; the arithmetic is the same as per minute.
const WINDOW_MS = 1000;
let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({
    deployments: [
      { name: "chat", model: "gpt-4o-mini", capability: "chat", tpm: 200, rpm: 100, quotaWindowMs: WINDOW_MS },
      { name: "embed", model: "text-embedding-3-small", capability: "embeddings", rpm: 2, quotaWindowMs: WINDOW_MS },
    ],
  });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

function post(deployment: string, op: string, body: unknown): Promise<Response> {
  return fetch(`${sim.url}/openai/deployments/${deployment}/${op}?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("quotas", () => {
  it("RPM over a sliding window: 429 with Azure's body and retry headers; remaining headers on successes", async () => {
    const first = await post("embed", "embeddings", { input: "a" });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    const second = await post("embed", "embeddings", { input: "a" });
    expect(second.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    const third = await post("embed", "embeddings", { input: "a" });
    expect(third.status).toBe(429);
    expect(third.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    const retryAfterMs = Number(third.headers.get("retry-after-ms"));
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
    expect(third.headers.get("retry-after")).toBe("1");
    const body = (await third.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("429");
    expect(body.error.message).toMatch(
      /Requests to the Embeddings_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit.*Please retry after 1 second/,
    );
    await new Promise((r) => setTimeout(r, retryAfterMs + 20));
    expect((await post("embed", "embeddings", { input: "a" })).status).toBe(200);
  });

  it("TPM charges prompt tokens plus max_tokens at admission, as Azure does", async () => {
    const a = await post("chat", "chat/completions", { messages: [{ role: "user", content: "Hi" }], max_tokens: 150 });
    expect(a.status).toBe(200);
    const prompt = ((await a.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
    expect(Number(a.headers.get("x-ratelimit-remaining-tokens"))).toBe(200 - prompt - 150);
    // 200 - 158 = 42 left: a request that may use 50 more does not fit, one that may use 20 does.
    const b = await post("chat", "chat/completions", { messages: [{ role: "user", content: "Hi" }], max_tokens: 50 });
    expect(b.status).toBe(429);
    expect(((await b.json()) as { error: { message: string } }).error.message).toContain("token rate limit");
    const c = await post("chat", "chat/completions", { messages: [{ role: "user", content: "Hi" }], max_tokens: 20 });
    expect(c.status).toBe(200);
    const journal = await sim.control.journal({ deployment: "chat" });
    expect(journal.map((e) => [e.status, e.chargedTokens ?? null, e.throttled ?? null])).toEqual([
      [200, prompt + 150, null],
      [429, null, "tokens"],
      [200, prompt + 20, null],
    ]);
  });

  it("the openai client honours retry-after-ms and gets through", async () => {
    const client = azureClient(sim, { maxRetries: 3 });
    const started = performance.now();
    for (let i = 0; i < 3; i++) await client.embeddings.create({ model: "embed", input: "x" });
    expect(performance.now() - started).toBeGreaterThan(WINDOW_MS * 0.5);
    const journal = await sim.control.journal({ deployment: "embed" });
    expect(journal.map((e) => e.status)).toEqual([200, 200, 429, 200]);
    expect(journal[3]!.headers["x-stainless-retry-count"]).toBe("1");
    const counters = await sim.control.counters();
    expect(counters.deployments.embed).toMatchObject({ requests: 4, throttled: 1, statuses: { 200: 3, 429: 1 } });
  });

  it("without retries the client sees RateLimitError with the headers", async () => {
    const client = azureClient(sim, { maxRetries: 0 });
    await client.embeddings.create({ model: "embed", input: "x" });
    await client.embeddings.create({ model: "embed", input: "x" });
    const e = await client.embeddings.create({ model: "embed", input: "x" }).then(unexpected, (e: unknown) => e as RateLimitError);
    expect(e).toBeInstanceOf(RateLimitError);
    expect(e.headers.get("retry-after-ms")).toMatch(/^\d+$/);
  });

  it("quotas change at runtime; 0 or null lifts them", async () => {
    await sim.control.setQuota("embed", { rpm: 1 });
    expect((await post("embed", "embeddings", { input: "a" })).status).toBe(200);
    expect((await post("embed", "embeddings", { input: "a" })).status).toBe(429);
    await sim.control.setQuota("embed", { rpm: null });
    expect((await post("embed", "embeddings", { input: "a" })).status).toBe(200);
    expect((await sim.control.deployment("embed")).rpm).toBeUndefined();
  });
});

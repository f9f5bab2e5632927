import { RateLimitError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { UNLIMITED_QUOTA } from "../../tools/simulator/quota.js";
import { API_VERSION, azureClient, readSse, startFast, unexpected, wav } from "./helpers.js";

// Small quotas over a short window keep these tests quick; the arithmetic is the same as per minute.
const WINDOW_MS = 1000;
let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({
    deployments: [
      { name: "chat", model: "gpt-4o-mini", capability: "chat", tpm: 200, rpm: 100, quotaWindowMs: WINDOW_MS },
      { name: "embed", model: "text-embedding-3-small", capability: "embeddings", rpm: 2, quotaWindowMs: WINDOW_MS },
      // No quota at all, and the request-only quotas Azure gives audio and image models.
      { name: "free-chat", model: "gpt-4o-mini", capability: "chat" },
      { name: "whisper", model: "whisper", capability: "transcription", rpm: 10 },
      { name: "tts", model: "tts", capability: "speech" },
      { name: "dall-e-3", model: "dall-e-3", capability: "image", rpm: 6 },
      { name: "instruct", model: "gpt-35-turbo-instruct", capability: "completions", tpm: 100_000, rpm: 50 },
    ],
  });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

function post(deployment: string, op: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.url}/openai/deployments/${deployment}/${op}?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function upload(deployment: string, op: string, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.set("file", new Blob([wav(2)], { type: "audio/wav" }), "a.wav");
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return fetch(`${sim.url}/openai/deployments/${deployment}/${op}?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey },
    body: form,
  });
}

/** The two remaining-quota headers of an answer, as numbers (null when absent). */
function remaining(res: Response): { requests: number | null; tokens: number | null } {
  const count = (name: string) => {
    const value = res.headers.get(name);
    return value === null ? null : Number(value);
  };
  return { requests: count("x-ratelimit-remaining-requests"), tokens: count("x-ratelimit-remaining-tokens") };
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

describe("x-ratelimit-remaining-* on every answer of a deployment", () => {
  const hi = { messages: [{ role: "user", content: "Hi" }] };

  it("a deployment with no quota counts down from a very large one, as Azure's large quotas do", async () => {
    const first = await post("free-chat", "chat/completions", hi);
    expect(first.status).toBe(200);
    const [entry] = await sim.control.journal({ deployment: "free-chat" });
    expect(remaining(first)).toEqual({ requests: UNLIMITED_QUOTA - 1, tokens: UNLIMITED_QUOTA - entry!.chargedTokens! });
    const streamed = await post("free-chat", "chat/completions", { ...hi, stream: true });
    expect(streamed.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(remaining(streamed).requests).toBe(UNLIMITED_QUOTA - 2);
    await readSse(streamed);
    // A token quota unset beside a request quota: the tokens header is still there.
    const embedded = await post("embed", "embeddings", { input: "a" });
    expect(remaining(embedded)).toEqual({ requests: 1, tokens: UNLIMITED_QUOTA - 1 });
  });

  it("Responses (whole and streamed) and legacy completions (whole and streamed)", async () => {
    const response = await fetch(`${sim.url}/openai/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "free-chat", input: "Hi" }),
    });
    expect(response.status).toBe(200);
    const [charged] = await sim.control.journal({ deployment: "free-chat" });
    expect(remaining(response)).toEqual({ requests: UNLIMITED_QUOTA - 1, tokens: UNLIMITED_QUOTA - charged!.chargedTokens! });
    const streamedResponse = await fetch(`${sim.url}/openai/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "free-chat", input: "Hi", stream: true }),
    });
    expect(streamedResponse.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(remaining(streamedResponse).requests).toBe(UNLIMITED_QUOTA - 2);
    await streamedResponse.text();

    const completion = await post("instruct", "completions", { prompt: "Say", max_tokens: 5 });
    expect(completion.status).toBe(200);
    const [completionEntry] = await sim.control.journal({ deployment: "instruct" });
    expect(remaining(completion)).toEqual({ requests: 49, tokens: 100_000 - completionEntry!.chargedTokens! });
    const streamedCompletion = await post("instruct", "completions", { prompt: "Say", max_tokens: 5, stream: true });
    expect(streamedCompletion.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(remaining(streamedCompletion).requests).toBe(48);
    await readSse(streamedCompletion);
  });

  it("audio (transcriptions in json and text, translations, speech) and image answers", async () => {
    const transcription = await upload("whisper", "audio/transcriptions");
    expect(transcription.status).toBe(200);
    expect(remaining(transcription)).toEqual({ requests: 9, tokens: UNLIMITED_QUOTA });
    const text = await upload("whisper", "audio/transcriptions", { response_format: "text" });
    expect(text.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(remaining(text)).toEqual({ requests: 8, tokens: UNLIMITED_QUOTA });
    const translation = await upload("whisper", "audio/translations");
    expect(translation.status).toBe(200);
    expect(remaining(translation)).toEqual({ requests: 7, tokens: UNLIMITED_QUOTA });
    const speech = await post("tts", "audio/speech", { model: "tts", input: "Hello there.", voice: "alloy", response_format: "wav" });
    expect(speech.headers.get("content-type")).toBe("audio/wav");
    expect(remaining(speech)).toEqual({ requests: UNLIMITED_QUOTA - 1, tokens: UNLIMITED_QUOTA });
    const image = await post("dall-e-3", "images/generations", { prompt: "a lighthouse" });
    expect(image.status).toBe(200);
    expect(remaining(image)).toEqual({ requests: 5, tokens: UNLIMITED_QUOTA });
  });

  it("429s, from the quota or from a fault", async () => {
    await post("chat", "chat/completions", { ...hi, max_tokens: 190 });
    const tokens = await post("chat", "chat/completions", { ...hi, max_tokens: 50 });
    expect(tokens.status).toBe(429);
    expect(remaining(tokens).requests).toBe(99);
    const [admitted] = await sim.control.journal({ deployment: "chat" });
    expect(remaining(tokens).tokens).toBe(200 - admitted!.chargedTokens!);
    const fault = await post("free-chat", "chat/completions", hi, { "x-simulator-fault": "429" });
    expect(fault.status).toBe(429);
    // Nothing was charged: what remains before the request.
    expect(remaining(fault)).toEqual({ requests: UNLIMITED_QUOTA, tokens: UNLIMITED_QUOTA });
    const images = await post("dall-e-3", "images/generations", { prompt: "x" }, { "x-simulator-fault": "429" });
    expect(images.status).toBe(429);
    expect(remaining(images)).toEqual({ requests: 6, tokens: UNLIMITED_QUOTA });
  });

  it("refusals once the deployment is known: a bad request, an injected failure", async () => {
    const invalid = await post("free-chat", "chat/completions", { messages: [{ role: "wizard", content: "x" }] });
    expect(invalid.status).toBe(400);
    expect(remaining(invalid)).toEqual({ requests: UNLIMITED_QUOTA, tokens: UNLIMITED_QUOTA });
    const form = new FormData();
    form.set("response_format", "json");
    const noFile = await fetch(`${sim.url}/openai/deployments/whisper/audio/transcriptions?api-version=${API_VERSION}`, {
      method: "POST",
      headers: { "api-key": sim.apiKey },
      body: form,
    });
    expect(noFile.status).toBe(400);
    expect(remaining(noFile)).toEqual({ requests: 10, tokens: UNLIMITED_QUOTA });
    const unavailable = await post("dall-e-3", "images/generations", { prompt: "x" }, { "x-simulator-fault": "503" });
    expect(unavailable.status).toBe(503);
    expect(remaining(unavailable)).toEqual({ requests: 6, tokens: UNLIMITED_QUOTA });
  });
});

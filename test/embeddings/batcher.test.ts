/**
 * The batcher against the simulator over real HTTP with the official openai client: coalescing,
 * routing of vectors back to callers, 429s, 5xx, dropped connections, a bad caller in a shared
 * request, the throttle budget, and quota use; and with a model on two simulated resources, how
 * requests spread over them and move off a throttled, failing or misconfigured one.
 */
import type { OpenAI } from "openai";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { NO_LATENCY, start, type Simulator } from "../../tools/simulator/index.js";
import { loadConfig } from "../../src/config.js";
import { EmbeddingsBatcher, type EmbeddingsBatcherOptions } from "../../src/embeddings/batcher.js";
import { countTokens } from "../../src/embeddings/tokenizer.js";
import { createOpenAIClient } from "../../src/openai/client.js";
import type { Logger } from "../../src/logging.js";
import { AppError } from "../../src/errors.js";
import { createRouter, type Route, type Router } from "../../src/routing/index.js";
import type { SimulatorResource } from "../../tools/simulator/index.js";
import { tableAcross } from "../support/routing-table.js";

const DEPLOYMENT = "text-embedding-3-small";
const quiet: Logger = { info() {}, warn() {}, error() {} };

let sim: Simulator;
let second: SimulatorResource;
let client: OpenAI;
let config: ReturnType<typeof loadConfig>;

beforeAll(async () => {
  sim = await start({ latency: NO_LATENCY, resources: [{ name: "second" }] });
  second = sim.resources[0]!;
  config = loadConfig({
    AZURE_OPENAI_ENDPOINT: sim.url,
    AZURE_OPENAI_API_KEY: sim.apiKey,
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
  });
  client = await createOpenAIClient(config.openai);
});
afterAll(async () => sim?.stop());
beforeEach(async () => Promise.all([sim.control.reset(), second.control.reset()]));

/** A router of the test's own (fresh health) over `settings`' table, default the one-resource settings. */
function routerFor(settings: Record<string, string> = {}): Router {
  const extra = loadConfig({
    AZURE_OPENAI_ENDPOINT: sim.url,
    AZURE_OPENAI_API_KEY: sim.apiKey,
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
    ...settings,
  });
  return createRouter(extra.openai);
}

/** The embeddings model on both resources (primary first in the table), and a router over it. */
function twoBackends(): { router: Router; route: Route } {
  const router = routerFor({
    SECOND_KEY: second.apiKey,
    AZURE_OPENAI_DEPLOYMENTS: tableAcross(
      [
        { name: "primary", url: sim.url },
        { name: "second", url: second.url, apiKeySetting: "SECOND_KEY" },
      ],
      { "text-embedding-3-small": { deployment: DEPLOYMENT, capabilities: ["embeddings"] } },
    ),
  });
  return { router, route: router.route("embeddings", DEPLOYMENT) };
}

let defaultRouter: Router | undefined;

function batcher(options: Partial<EmbeddingsBatcherOptions> = {}): EmbeddingsBatcher {
  defaultRouter = options.router ?? routerFor();
  return new EmbeddingsBatcher({
    router: defaultRouter,
    maxInputsPerRequest: 2048,
    maxTokensPerRequest: 300_000,
    maxWaitInMs: 20,
    retry: { transientRetries: 2, transientBackoffInMs: 5 },
    ...options,
  });
}

const text = (i: number) => `document ${i} about topic ${i % 7} with words ${"lorem ipsum ".repeat(i % 5)}`;
const item = (t: string) => ({ text: t, tokens: countTokens(t) });
const options = (extra: { throttleDeadline?: number; dimensions?: number; route?: Route } = {}) => ({
  route: defaultRouter!.route("embeddings", DEPLOYMENT),
  throttleDeadline: Date.now() + 30_000,
  logger: quiet,
  ...extra,
});

/** The vector the simulator gives one text on its own, to check routing (faults cleared: this is the reference). */
async function direct(texts: string[], dimensions?: number): Promise<number[][]> {
  await sim.control.setFaults(DEPLOYMENT, []);
  const res = await client.embeddings.create({ model: DEPLOYMENT, input: texts, ...(dimensions ? { dimensions } : {}) });
  return res.data.map((d) => d.embedding);
}

describe("EmbeddingsBatcher", () => {
  it("coalesces 300 concurrent callers into a few requests and routes every vector to its caller", async () => {
    const b = batcher();
    const callers = Array.from({ length: 300 }, (_, i) => [text(i), text(i + 1000)]);
    const results = await Promise.all(callers.map((texts) => b.embed(texts.map(item), options())));
    const journal = await sim.control.journal({ deployment: DEPLOYMENT });
    expect(journal.length).toBeLessThanOrEqual(5);
    expect(b.stats.requests).toBe(journal.length);
    const expected = await direct([callers[0]![0]!, callers[0]![1]!, callers[299]![1]!]);
    expect(results[0]!.embeddings[0]).toEqual(expected[0]);
    expect(results[0]!.embeddings[1]).toEqual(expected[1]);
    expect(results[299]!.embeddings[1]).toEqual(expected[2]);
    expect(results.every((r) => r.model === DEPLOYMENT && r.embeddings.length === 2)).toBe(true);
  });

  it("splits one caller's many inputs over several requests of at most maxInputsPerRequest, in order", async () => {
    const b = batcher({ maxInputsPerRequest: 16 });
    const texts = Array.from({ length: 50 }, (_, i) => text(i));
    const result = await b.embed(texts.map(item), options());
    const journal = await sim.control.journal({ deployment: DEPLOYMENT });
    expect(journal.length).toBe(4);
    expect(result.embeddings).toEqual(await direct(texts));
  });

  it("keeps requests under maxTokensPerRequest", async () => {
    const b = batcher({ maxTokensPerRequest: 100 });
    const texts = Array.from({ length: 30 }, (_, i) => text(i));
    const total = texts.reduce((sum, t) => sum + countTokens(t), 0);
    await b.embed(texts.map(item), options());
    const journal = await sim.control.journal({ deployment: DEPLOYMENT });
    expect(journal.length).toBeGreaterThanOrEqual(Math.ceil(total / 100));
    for (const entry of journal) expect(entry.usage?.prompt_tokens ?? 0).toBeLessThanOrEqual(100);
  });

  it("separates callers asking for different dimensions", async () => {
    const b = batcher();
    const [small, full] = await Promise.all([
      b.embed([item("alpha beta")], options({ dimensions: 256 })),
      b.embed([item("alpha beta")], options()),
    ]);
    expect(small.embeddings[0]).toHaveLength(256);
    expect(full.embeddings[0]).toHaveLength(1536);
    expect(small.embeddings[0]).toEqual((await direct(["alpha beta"], 256))[0]);
  });

  it("waits out 429s (retry-after-ms) and still delivers everything", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, every: 2, ms: 30 }]);
    const b = batcher({ maxInputsPerRequest: 10 });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => b.embed([item(text(i))], options())));
    expect(results).toHaveLength(60);
    expect(b.stats.throttledResponses).toBeGreaterThan(0);
    expect((await sim.control.counters()).deployments[DEPLOYMENT]!.throttled).toBe(b.stats.throttledResponses);
  });

  it("retries 500s, 503s and connection resets inside the request", async () => {
    await sim.control.setFaults(DEPLOYMENT, [
      { kind: 500, every: 3 },
      { kind: "reset", every: 4 },
      { kind: 503, every: 5 },
    ]);
    // Fault counters are shared by all requests, so one request can meet several faults in a row.
    const b = batcher({ maxInputsPerRequest: 5, retry: { transientRetries: 6, transientBackoffInMs: 5 } });
    const texts = Array.from({ length: 40 }, (_, i) => text(i));
    const results = await Promise.all(texts.map((t) => b.embed([item(t)], options())));
    expect(results.map((r) => r.embeddings[0])).toEqual(await direct(texts));
    expect(b.stats.failedRequests).toBeGreaterThan(0);
  });

  it("fails callers with a transient error once retries are spent", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 500 }]);
    const b = batcher({ retry: { transientRetries: 1, transientBackoffInMs: 5 } });
    const error = await b.embed([item("x y z")], options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).kind).toBe("transient");
    expect((await sim.control.journal({ deployment: DEPLOYMENT })).length).toBe(2);
  });

  it("gives up with `throttled` when throttling outlasts the caller's budget, without waiting it out", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 5000 }]);
    const b = batcher();
    const started = Date.now();
    const error = await b.embed([item("hello")], options({ throttleDeadline: Date.now() + 200 })).catch((e: unknown) => e);
    expect((error as AppError).kind).toBe("throttled");
    expect((error as AppError).code).toBe("throttle_budget_exhausted");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("isolates a caller whose input Azure rejects, so callers sharing its request succeed", async () => {
    const b = batcher();
    const tooLong = "word ".repeat(9000); // over the model's 8191 tokens; the batcher trusts the count it is given
    const [good1, bad, good2] = await Promise.allSettled([
      b.embed([item("first good text")], options()),
      b.embed([{ text: tooLong, tokens: 10 }], options()),
      b.embed([item("second good text")], options()),
    ]);
    expect(good1.status).toBe("fulfilled");
    expect(good2.status).toBe("fulfilled");
    expect(bad.status).toBe("rejected");
    expect(((bad as PromiseRejectedResult).reason as AppError).kind).toBe("upstream_permanent");
  });

  it("stops sending a caller's waiting inputs once its signal aborts", async () => {
    const b = batcher({ maxWaitInMs: 200 });
    const controller = new AbortController();
    const pending = b.embed([item("never sent")], { ...options(), signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ kind: "cancelled" });
    await new Promise((r) => setTimeout(r, 250));
    expect(await sim.control.journal({ deployment: DEPLOYMENT })).toHaveLength(0);
  });

  it("does not isolate callers when Azure refuses the app itself (401): one request, every caller fails", async () => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: sim.url,
      AZURE_OPENAI_API_KEY: "not-the-key",
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
    });
    const b = batcher({ router: createRouter(config.openai) });
    const results = await Promise.allSettled(["a b", "c d", "e f"].map((t) => b.embed([item(t)], options())));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(((results[0] as PromiseRejectedResult).reason as AppError).status).toBe(401);
    expect(b.stats.requests).toBe(1);
  });

  it("fails callers (transient) instead of leaving them waiting when an answer lacks a vector for some input", async () => {
    // A proxy in front of the simulator that numbers every returned vector 0, as a broken gateway might.
    const proxy = await startRewritingProxy(sim.url, (body) => {
      const parsed = JSON.parse(body) as { data?: Array<{ index: number }> };
      for (const entry of parsed.data ?? []) entry.index = 0;
      return JSON.stringify(parsed);
    });
    try {
      const config = loadConfig({
        AZURE_OPENAI_ENDPOINT: proxy.url,
        AZURE_OPENAI_API_KEY: sim.apiKey,
        AzureWebJobsStorage: "UseDevelopmentStorage=true",
      });
      const b = batcher({ router: createRouter(config.openai) });
      const results = await Promise.allSettled([b.embed([item("one"), item("two")], options()), b.embed([item("three")], options())]);
      for (const result of results) {
        expect(result.status).toBe("rejected");
        expect((result as PromiseRejectedResult).reason).toMatchObject({ kind: "transient", code: "embeddings_count_mismatch" });
      }
    } finally {
      await proxy.stop();
    }
  });
});

describe("EmbeddingsBatcher across the backends of a model", () => {
  const journals = async () => [
    (await sim.control.journal({ deployment: DEPLOYMENT })).length,
    (await second.control.journal({ deployment: DEPLOYMENT })).length,
  ];

  it("spreads requests over both backends and routes every vector to its caller", async () => {
    const { router, route } = twoBackends();
    const b = batcher({ router, maxInputsPerRequest: 4 });
    const texts = Array.from({ length: 80 }, (_, i) => text(i));
    const results = await Promise.all(texts.map((t) => b.embed([item(t)], options({ route }))));
    const [first, other] = await journals();
    expect(first! + other!).toBe(b.stats.requests);
    expect(first).toBeGreaterThan(0);
    expect(other).toBeGreaterThan(0);
    expect(results.map((r) => r.embeddings[0])).toEqual(await direct(texts));
    const served = new Set(results.flatMap((r) => r.backends.map((backend) => backend.name)));
    expect([...served].sort()).toEqual([`primary/${DEPLOYMENT}`, `second/${DEPLOYMENT}`]);
  });

  it("moves the work of a backend that keeps throttling (429) to the other at once", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 10_000 }]);
    const { router, route } = twoBackends();
    const b = batcher({ router, maxInputsPerRequest: 4 });
    const started = Date.now();
    const texts = Array.from({ length: 40 }, (_, i) => text(i));
    const results = await Promise.all(texts.map((t) => b.embed([item(t)], options({ route, throttleDeadline: Date.now() + 2000 }))));
    expect(Date.now() - started).toBeLessThan(5000); // far below the 10 s the throttled backend asks for
    expect(results.map((r) => r.embeddings[0])).toEqual(await direct(texts));
    // The throttled backend saw at most the requests in flight when its first 429 came; the rest went to the other.
    const throttled = (await sim.control.counters()).deployments[DEPLOYMENT]!.throttled;
    expect(throttled).toBeGreaterThan(0);
    expect(throttled).toBeLessThanOrEqual(4);
    expect((await second.control.counters()).deployments[DEPLOYMENT]!.throttled).toBe(0);
    expect(results.every((r) => r.backends.every((backend) => backend.name === `second/${DEPLOYMENT}`))).toBe(true);
    expect(b.quota(route.backends[0]!).pausedForInMs).toBeGreaterThan(5000);
  });

  it("waits for the first backend back when every backend is throttled, and gives up at the deadline", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, times: 1, ms: 300 }]);
    await second.control.setFaults(DEPLOYMENT, [{ kind: 429, times: 1, ms: 5000 }]);
    const { router, route } = twoBackends();
    const b = batcher({ router });
    // Two requests: whichever backend each meets first throttles it; then both are cooling down.
    const [a, c] = await Promise.all([
      b.embed([item("alpha")], options({ route })),
      new Promise((r) => setTimeout(r, 30)).then(() => b.embed([item("beta")], options({ route }))),
    ]);
    expect(a.embeddings[0]).toEqual((await direct(["alpha"]))[0]);
    expect(c.embeddings[0]).toEqual((await direct(["beta"]))[0]);
    // Now both are throttled for long: a caller with a short budget gets `throttled` at once.
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 5000 }]);
    await second.control.setFaults(DEPLOYMENT, [{ kind: 429, ms: 5000 }]);
    const fresh = twoBackends();
    const b2 = batcher({ router: fresh.router });
    const started = Date.now();
    const error = await b2
      .embed([item("gamma")], options({ route: fresh.route, throttleDeadline: Date.now() + 500 }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "throttled", code: "throttle_budget_exhausted" });
    expect((error as AppError).message).toMatch(/all 2 of its backends/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("sends a request that failed with a 5xx to the other backend at once, with no retry of its own", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 500 }]);
    const { router, route } = twoBackends();
    const b = batcher({ router, retry: { transientRetries: 0, transientBackoffInMs: 5 } });
    const texts = Array.from({ length: 12 }, (_, i) => text(i));
    const results = await Promise.all(texts.map((t) => b.embed([item(t)], options({ route }))));
    expect(results.map((r) => r.embeddings[0])).toEqual(await direct(texts));
    expect((await second.control.journal({ deployment: DEPLOYMENT })).every((entry) => entry.status === 200)).toBe(true);
  });

  it("fails callers as transient when every backend fails, after one try on each", async () => {
    await sim.control.setFaults(DEPLOYMENT, [{ kind: 503 }]);
    await second.control.setFaults(DEPLOYMENT, [{ kind: 503 }]);
    const { router, route } = twoBackends();
    const b = batcher({ router, retry: { transientRetries: 0, transientBackoffInMs: 5 } });
    const error = await b.embed([item("x y")], options({ route })).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "transient", status: 503 });
    expect(await journals()).toEqual([1, 1]);
  });

  it("moves off a backend that refuses the app (its deployment missing there) and fails only when none is left", async () => {
    const router = routerFor({
      SECOND_KEY: second.apiKey,
      AZURE_OPENAI_DEPLOYMENTS: JSON.stringify({
        "text-embedding-3-small": [
          { name: "missing", endpoint: sim.url, deployment: "no-such-deployment", capabilities: ["embeddings"], priority: 0 },
          {
            name: "good",
            endpoint: second.url,
            apiKeySetting: "SECOND_KEY",
            deployment: DEPLOYMENT,
            capabilities: ["embeddings"],
            priority: 1,
          },
        ],
        "gpt-4o-mini": [{ deployment: "gpt-4o-mini", capabilities: ["chat"] }],
        whisper: [{ deployment: "whisper", capabilities: ["transcription"] }],
      }),
    });
    const b = batcher({ router });
    const result = await b.embed([item("hello there")], options({ route: router.route("embeddings", DEPLOYMENT) }));
    expect(result.backends.map((backend) => backend.name)).toEqual(["good"]);
    expect((await sim.control.journal()).map((entry) => entry.status)).toEqual([404]);
  });
});

/** An HTTP proxy to `target` that passes requests through and rewrites JSON answers. */
async function startRewritingProxy(target: string, rewrite: (body: string) => string): Promise<{ url: string; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const body = rewrite(Buffer.concat(chunks).toString("utf8"));
          const headers = { ...answer.headers };
          delete headers["content-length"];
          delete headers["transfer-encoding"];
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

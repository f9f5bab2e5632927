/**
 * The router against two simulated Azure OpenAI resources over real HTTP, through the official
 * client, as the app builds it: which backend each call reaches is read from each resource's own
 * journal, never from the router's word.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { AppError, classifyError } from "../../src/errors.js";
import { describeError } from "../../src/http/error-response.js";
import { readChatChunks } from "../../src/chat/upstream-chunks.js";
import { openedAtFirstEvent } from "../../src/routing/first-event.js";
import { createRouter, type Router } from "../../src/routing/index.js";
import { NO_LATENCY, start, type Simulator } from "../../tools/simulator/index.js";
import type { SimulatorResource } from "../../tools/simulator/index.js";

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
let sim: Simulator;
let eu: SimulatorResource;
let us: SimulatorResource;

beforeAll(async () => {
  sim = await start({ latency: NO_LATENCY, resources: [{ name: "eu" }, { name: "us" }] });
  [eu, us] = sim.resources as [SimulatorResource, SimulatorResource];
});
afterAll(() => sim?.stop());
beforeEach(async () => {
  await Promise.all([eu.control.reset(), us.control.reset()]);
});

/** A router for model `gpt-4o` served by deployment gpt-4o-mini on both resources (an alias), with these backend fields. */
function routerFor(backends: { eu: Record<string, unknown>; us: Record<string, unknown> }, env: Record<string, string> = {}): Router {
  const table = {
    "gpt-4o": [
      { name: "eu", endpoint: eu.url, deployment: "gpt-4o-mini", capabilities: ["chat"], apiKeySetting: "EU_KEY", ...backends.eu },
      { name: "us", endpoint: us.url, deployment: "gpt-4o-mini", capabilities: ["chat"], apiKeySetting: "US_KEY", ...backends.us },
    ],
    "text-embedding-3-small": [
      { endpoint: eu.url, deployment: "text-embedding-3-small", capabilities: ["embeddings"], apiKeySetting: "EU_KEY" },
    ],
    whisper: [{ endpoint: eu.url, deployment: "whisper", capabilities: ["transcription"], apiKeySetting: "EU_KEY" }],
  };
  const config = loadConfig({
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
    AZURE_OPENAI_DEPLOYMENTS: JSON.stringify(table),
    EU_KEY: eu.apiKey,
    US_KEY: us.apiKey,
    ...env,
  });
  return createRouter(config.openai);
}

async function chat(router: Router, model = "gpt-4o"): Promise<string> {
  const { backend } = await router.run(router.route("chat", model), { logger: quiet }, (target) =>
    target.client.chat.completions.create({ model: target.backend.deployment, messages: [{ role: "user", content: "hi" }], max_tokens: 3 }),
  );
  return backend.name;
}

async function requestsTo(control: SimulatorResource["control"]): Promise<number[]> {
  return (await control.journal()).filter((entry) => entry.operation === "chat/completions").map((entry) => entry.status);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Router", () => {
  it("routes a model name to its deployment on the lowest priority, and refuses a model nobody serves", async () => {
    const router = routerFor({ eu: { priority: 0 }, us: { priority: 1 } });
    expect(await chat(router)).toBe("eu");
    expect(await requestsTo(eu.control)).toEqual([200]);
    expect(await requestsTo(us.control)).toEqual([]);
    const error = (() => {
      try {
        router.route("chat", "gpt-5");
      } catch (thrown) {
        return thrown as AppError;
      }
    })();
    expect(error).toMatchObject({ kind: "bad_input", code: "model_not_found", param: "model" });
    expect(error?.message).toBe("The model 'gpt-5' does not exist here; use 'gpt-4o' (GET /api/v1/models lists every model)");
    expect(() => router.route("embeddings", "gpt-4o")).toThrow(
      "The model 'gpt-4o' does not serve embeddings; use 'text-embedding-3-small'",
    );
  });

  it("spills over to the next priority while the first cools down for Azure's retry-after-ms, then comes back", async () => {
    const router = routerFor({ eu: { priority: 0 }, us: { priority: 1 } });
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 429, times: 1, ms: 600 }]);
    const throttledAt = Date.now();
    expect(await chat(router)).toBe("us"); // eu answered 429: moved on in the same call
    expect(await chat(router)).toBe("us"); // eu is cooling down: not asked
    expect(await requestsTo(eu.control)).toEqual([429]);
    await sleep(Math.max(0, throttledAt + 700 - Date.now()));
    expect(await chat(router)).toBe("eu");
    expect(await requestsTo(eu.control)).toEqual([429, 200]);
    expect(await requestsTo(us.control)).toEqual([200, 200]);
  });

  it("shares traffic by weight within a priority", async () => {
    const router = routerFor({ eu: { weight: 3 }, us: { weight: 1 } });
    const calls = 400;
    const answeredBy: string[] = [];
    for (let batch = 0; batch < calls / 20; batch++)
      answeredBy.push(...(await Promise.all(Array.from({ length: 20 }, () => chat(router)))));
    const euShare = answeredBy.filter((name) => name === "eu").length / calls;
    // 3:1 is 0.75; four standard deviations of 400 draws is about ±0.09.
    expect(euShare).toBeGreaterThan(0.66);
    expect(euShare).toBeLessThan(0.84);
    expect((await requestsTo(eu.control)).length + (await requestsTo(us.control)).length).toBe(calls);
  });

  it("opens a backend's circuit after consecutive 5xx, passes it over, then lets one probe through and closes it", async () => {
    const router = routerFor(
      { eu: { priority: 0 }, us: { priority: 1 } },
      { AZURE_OPENAI_CIRCUIT_FAILURES: "2", AZURE_OPENAI_CIRCUIT_BREAK_MS: "400" },
    );
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 500, times: 2 }]);
    expect(await chat(router)).toBe("us");
    expect(await chat(router)).toBe("us"); // second failure: the circuit opens
    const openedAt = Date.now();
    expect(await chat(router)).toBe("us"); // passed over without asking
    expect(await requestsTo(eu.control)).toEqual([500, 500]);

    await sleep(Math.max(0, openedAt + 500 - Date.now()));
    // Half-open: of two calls at once, one probes eu, the other goes on to us.
    await eu.control.setLatency("gpt-4o-mini", { timeToFirstTokenMs: 300 });
    const both = await Promise.all([chat(router), chat(router)]);
    expect(both.sort()).toEqual(["eu", "us"]);
    expect(await requestsTo(eu.control)).toEqual([500, 500, 200]);
    // The probe succeeded: the circuit is closed.
    await eu.control.setLatency("gpt-4o-mini", { timeToFirstTokenMs: 0 });
    expect(await chat(router)).toBe("eu");
  });

  it("probes a failing backend at once rather than refusing the caller when the others are throttled", async () => {
    const router = routerFor(
      { eu: { priority: 0 }, us: { priority: 1 } },
      { AZURE_OPENAI_CIRCUIT_FAILURES: "1", AZURE_OPENAI_CIRCUIT_BREAK_MS: "60000" },
    );
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 500, times: 1 }]);
    expect(await chat(router)).toBe("us"); // eu's 500 opens its circuit for a minute
    await us.control.setFaults("gpt-4o-mini", [{ kind: 429, times: 1, ms: 5000 }]);
    // us throttles; eu's circuit is still open, but it is asked (as its probe) before the caller is refused.
    expect(await chat(router)).toBe("eu");
    expect(await requestsTo(eu.control)).toEqual([500, 200]);
    // The probe succeeded: eu's circuit is closed and it takes the load while us cools down.
    expect(await chat(router)).toBe("eu");
  });

  it("doubles a circuit's break after each failed probe", async () => {
    const router = routerFor(
      { eu: { priority: 0 }, us: { priority: 1 } },
      { AZURE_OPENAI_CIRCUIT_FAILURES: "1", AZURE_OPENAI_CIRCUIT_BREAK_MS: "300" },
    );
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 500, times: 2 }]);
    expect(await chat(router)).toBe("us"); // opens for 300 ms
    await sleep(350);
    expect(await chat(router)).toBe("us"); // the probe fails: open for 600 ms
    const reopenedAt = Date.now();
    await sleep(Math.max(0, reopenedAt + 400 - Date.now()));
    expect(await chat(router)).toBe("us"); // still open after 400 ms: not asked
    expect(await requestsTo(eu.control)).toEqual([500, 500]);
    await sleep(Math.max(0, reopenedAt + 700 - Date.now()));
    expect(await chat(router)).toBe("eu"); // the next probe succeeds
  });

  it("opens the circuit of a backend that accepts streams and drops them before their first event", async () => {
    const router = routerFor(
      { eu: { priority: 0 }, us: { priority: 1 } },
      { AZURE_OPENAI_CIRCUIT_FAILURES: "2", AZURE_OPENAI_CIRCUIT_BREAK_MS: "60000" },
    );
    await eu.control.setFaults("gpt-4o-mini", [{ kind: "headers-only" }]);
    const stream = async () => {
      const { backend } = await router.run(router.route("chat", "gpt-4o"), { logger: quiet }, (target) =>
        openedAtFirstEvent(
          (async () => {
            const response = await target.client.chat.completions
              .create({ model: target.backend.deployment, messages: [{ role: "user", content: "hi" }], max_tokens: 3, stream: true })
              .asResponse();
            return readChatChunks(response, new AbortController().signal);
          })(),
          5_000,
        ),
      );
      return backend.name;
    };
    expect(await stream()).toBe("us");
    expect(await stream()).toBe("us"); // the second drop opens eu's circuit, though eu answered 200 both times
    expect(await stream()).toBe("us");
    expect(await requestsTo(eu.control)).toEqual([200, 200]);
  });

  it("answers 429 with the soonest Retry-After when every backend cools down", async () => {
    const router = routerFor({ eu: {}, us: {} });
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 429, times: 1, ms: 3000 }]);
    await us.control.setFaults("gpt-4o-mini", [{ kind: 429, times: 1, ms: 1500 }]);
    // Both are asked in this call, and then both cool down: the wait is the sooner of the two.
    const first = classifyError(await chat(router).catch((thrown: unknown) => thrown));
    expect(first).toMatchObject({ kind: "throttled", code: "all_backends_unavailable" });
    // While they cool down nobody is asked.
    const error = classifyError(await chat(router).catch((thrown: unknown) => thrown));
    expect(error).toMatchObject({ kind: "throttled", code: "all_backends_unavailable" });
    expect(error.retryAfterInMs).toBeGreaterThan(1000);
    expect(error.retryAfterInMs).toBeLessThanOrEqual(1500);
    const answer = describeError(error);
    expect(answer.status).toBe(429);
    expect(Number(answer.headers["retry-after-ms"])).toBeLessThanOrEqual(1500);
    expect(answer.headers["retry-after"]).toBe("2");
    expect(answer.body.error.message).toMatch(
      /^Every one of the 2 backends of model 'gpt-4o' is cooling down after Azure OpenAI throttled it \(429\)/,
    );
    expect(await requestsTo(eu.control)).toEqual([429]);
    expect(await requestsTo(us.control)).toEqual([429]);
  });

  it("moves on from a backend whose deployment is missing, and names the table entry when none is left", async () => {
    const router = routerFor({ eu: { priority: 0, deployment: "missing-eu" }, us: { priority: 1 } });
    expect(await chat(router)).toBe("us");
    const broken = routerFor({ eu: { deployment: "missing-eu" }, us: { deployment: "missing-us", priority: 1 } });
    const error = classifyError(await chat(broken).catch((thrown: unknown) => thrown));
    expect(error).toMatchObject({ kind: "configuration", status: 404 });
    expect(error.message).toMatch(
      /In AZURE_OPENAI_DEPLOYMENTS this is backend 'us' of model 'gpt-4o' \(deployment missing-us on http:\/\/127\.0\.0\.1:\d+, with its apiKeySetting's key\): check that entry\.$/,
    );
    expect(error.message).not.toContain(us.apiKey);
  });

  it("does not move on for the caller's own mistake", async () => {
    const router = routerFor({ eu: { priority: 0 }, us: { priority: 1 } });
    const failure = await router
      .run(router.route("chat", "gpt-4o"), { logger: quiet }, (target) =>
        target.client.chat.completions.create({ model: target.backend.deployment, messages: [], max_tokens: 3 }),
      )
      .catch((thrown: unknown) => classifyError(thrown));
    expect(failure).toMatchObject({ kind: expect.stringMatching(/bad_input|upstream_permanent/), status: 400 });
    expect((await requestsTo(eu.control)).length + (await requestsTo(us.control)).length).toBe(1);
  });

  it("passes over a backend whose last remaining-quota reading cannot fit the request", async () => {
    const router = routerFor({ eu: { priority: 0 }, us: { priority: 1 } });
    await eu.control.setQuota("gpt-4o-mini", { tpm: 1000 });
    expect(await chat(router)).toBe("eu"); // learns eu's remaining tokens (under 1000)
    const big = { atMost: 5000, exact: () => 5000 };
    const { backend } = await router.run(router.route("chat", "gpt-4o"), { logger: quiet, estimate: big }, (target) =>
      target.client.chat.completions.create({
        model: target.backend.deployment,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 3,
      }),
    );
    expect(backend.name).toBe("us");
    expect(await chat(router)).toBe("eu"); // a small request still fits eu
  });
});

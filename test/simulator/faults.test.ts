import { APIConnectionError, BadRequestError, InternalServerError, RateLimitError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAULT_HEADER, start, NO_LATENCY, type Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, readSse, startFast, unexpected } from "./helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startFast();
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

const messages = [{ role: "user" as const, content: "Hi" }];
const fault = (value: string) => ({ headers: { [FAULT_HEADER]: value } });

function rawChat(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

async function statuses(): Promise<number[]> {
  return (await sim.control.journal()).map((e) => e.status);
}

describe("faults by header", () => {
  it("429 / 500 / 503: the client retries them all, then gives up with the right error", async () => {
    const client = azureClient(sim, { maxRetries: 2 });
    const cases: [string, new (...a: never[]) => Error, number][] = [
      ["429;ms=10", RateLimitError, 429],
      ["500;ms=10", InternalServerError, 500],
      ["503;ms=10", InternalServerError, 503],
    ];
    for (const [value, type, status] of cases) {
      await sim.control.reset();
      const e = await client.chat.completions.create({ model: "gpt-4o-mini", messages }, fault(value)).catch((e: unknown) => e);
      expect(e, value).toBeInstanceOf(type);
      expect(await statuses()).toEqual([status, status, status]);
    }
    const c = await sim.control.counters();
    expect(c.deployments["gpt-4o-mini"]!.faults).toBe(3);
  });

  it("a fault-injected 429 carries Azure's retry headers", async () => {
    const res = await rawChat({ messages }, { [FAULT_HEADER]: "429;ms=2500" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after-ms")).toBe("2500");
    expect(res.headers.get("retry-after")).toBe("3");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("429");
  });

  it("delay: a latency spike", async () => {
    const t0 = performance.now();
    await azureClient(sim).chat.completions.create({ model: "gpt-4o-mini", messages }, fault("delay;ms=300"));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it("reset: the connection dies before any header (a connection error to the client)", async () => {
    const e = await azureClient(sim, { maxRetries: 1 })
      .chat.completions.create({ model: "gpt-4o-mini", messages }, fault("reset"))
      .catch((e: unknown) => e);
    expect(e).toBeInstanceOf(APIConnectionError);
    const journal = await sim.control.journal();
    expect(journal).toHaveLength(2);
    expect(journal[0]).toMatchObject({ status: 0, faults: ["reset"] });
  });

  it("drop: a stream cut mid-way, with no finish chunk and no [DONE]", async () => {
    const res = await rawChat({ messages, stream: true, max_tokens: 30 }, { [FAULT_HEADER]: "drop;after=4" });
    expect(res.status).toBe(200);
    const err = await res.text().then(
      (t) => t,
      (e: unknown) => e,
    );
    if (typeof err === "string") {
      expect(err).not.toContain("[DONE]");
      expect(err.match(/"content":"[^"]+"/g)?.length ?? 0).toBeLessThanOrEqual(4);
    } else expect(err).toBeInstanceOf(Error);
    const stream = await azureClient(sim, { maxRetries: 0 }).chat.completions.create(
      { model: "gpt-4o-mini", messages, stream: true, max_tokens: 30 },
      fault("drop;after=4"),
    );
    let contents = 0;
    await expect(
      (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) contents++;
      })(),
    ).rejects.toThrow();
    expect(contents).toBe(4);
    // Dropped by the simulator, not abandoned by the client.
    expect((await sim.control.counters()).deployments["gpt-4o-mini"]!.abortedStreams).toBe(0);
  });

  it("drop on a non-streamed answer: half a body, then the connection closes", async () => {
    const e = await azureClient(sim, { maxRetries: 0 })
      .embeddings.create({ model: "text-embedding-3-small", input: "x" }, fault("drop"))
      .catch((e: unknown) => e);
    expect(e).toBeInstanceOf(Error);
  });

  it("content-filter: 400 with Azure's content_filter body", async () => {
    const e = await azureClient(sim)
      .chat.completions.create({ model: "gpt-4o-mini", messages }, fault("content-filter"))
      .then(unexpected, (e: unknown) => e as BadRequestError);
    expect(e).toBeInstanceOf(BadRequestError);
    expect(e.code).toBe("content_filter");
    expect(
      (e.error as { innererror: { code: string; content_filter_result: { violence: { filtered: boolean } } } }).innererror,
    ).toMatchObject({
      code: "ResponsibleAIPolicyViolation",
      content_filter_result: { violence: { filtered: true } },
    });
    expect(await statuses()).toEqual([400]);
  });

  it("finish-content-filter: the stream ends with finish_reason content_filter after N tokens", async () => {
    const events = await readSse(
      await rawChat({ messages, stream: true, max_tokens: 30 }, { [FAULT_HEADER]: "finish-content-filter;after=2" }),
    );
    const chunks = events.slice(0, -1).map(
      (e) =>
        JSON.parse(e) as {
          choices: {
            delta?: { content?: string };
            finish_reason: string | null;
            content_filter_results?: Record<string, { filtered: boolean }>;
          }[];
        },
    );
    expect(chunks.filter((c) => c.choices[0]?.delta?.content)).toHaveLength(2);
    const last = chunks.at(-1)!.choices[0]!;
    expect(last.finish_reason).toBe("content_filter");
    expect(last.content_filter_results!.violence!.filtered).toBe(true);
    const whole = await azureClient(sim).chat.completions.create(
      { model: "gpt-4o-mini", messages },
      fault("finish-content-filter;after=2"),
    );
    expect(whole.choices[0]!.finish_reason).toBe("content_filter");
  });

  it("several faults at once, and a malformed header is a 400 that names it", async () => {
    const t0 = performance.now();
    const res = await rawChat({ messages }, { [FAULT_HEADER]: "delay;ms=150, 503" });
    expect(res.status).toBe(503);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    const bad = await rawChat({ messages }, { [FAULT_HEADER]: "explode" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain(FAULT_HEADER);
  });
});

describe("faults by deployment rule", () => {
  it("times: the next N requests fail, so a retrying client gets through", async () => {
    await sim.control.setFaults("gpt-4o-mini", [{ kind: 503, times: 2, ms: 10 }]);
    const r = await azureClient(sim, { maxRetries: 2 }).chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(r.choices).toHaveLength(1);
    expect(await statuses()).toEqual([503, 503, 200]);
  });

  it("every: every Nth request", async () => {
    await sim.control.setFaults("gpt-4o-mini", [{ kind: 500, every: 3 }]);
    for (let i = 0; i < 7; i++) await rawChat({ messages });
    expect(await statuses()).toEqual([200, 200, 500, 200, 200, 500, 200]);
  });

  it("operations: a rule limited to one operation leaves the others alone", async () => {
    await sim.control.setFaults("text-embedding-3-small", [{ kind: 429, operations: ["embeddings"] }]);
    await sim.control.setFaults("gpt-4o-mini", [{ kind: 429, operations: ["embeddings"] }]);
    expect((await rawChat({ messages })).status).toBe(200);
    const e = await azureClient(sim, { maxRetries: 0 })
      .embeddings.create({ model: "text-embedding-3-small", input: "x" })
      .catch((e: unknown) => e);
    expect(e).toBeInstanceOf(RateLimitError);
  });

  it("rate: a seeded fraction, the same hits for the same seed", async () => {
    const pattern = async (seed: number) => {
      const s = await start({
        seed,
        latency: NO_LATENCY,
        deployments: [{ name: "c", model: "gpt-4o-mini", capability: "chat", faults: [{ kind: 500, rate: 0.3 }] }],
      });
      try {
        const out: number[] = [];
        for (let i = 0; i < 30; i++) {
          const res = await fetch(`${s.url}/openai/deployments/c/chat/completions?api-version=${API_VERSION}`, {
            method: "POST",
            headers: { "api-key": s.apiKey, "content-type": "application/json" },
            body: JSON.stringify({ messages }),
          });
          out.push(res.status);
        }
        return out;
      } finally {
        await s.stop();
      }
    };
    const a = await pattern(1);
    expect(await pattern(1)).toEqual(a);
    const failures = a.filter((s) => s === 500).length;
    expect(failures).toBeGreaterThan(3);
    expect(failures).toBeLessThan(17);
    expect(await pattern(2)).not.toEqual(a);
  });

  it("content-filter by rule on images", async () => {
    await sim.control.setFaults("dall-e-3", [{ kind: "content-filter", times: 1 }]);
    const client = azureClient(sim, { maxRetries: 0 });
    const e = await client.images.generate({ model: "dall-e-3", prompt: "x" }).then(unexpected, (e: unknown) => e as BadRequestError);
    expect(e.code).toBe("content_filter");
    expect((await client.images.generate({ model: "dall-e-3", prompt: "x" })).data).toHaveLength(1);
  });
});

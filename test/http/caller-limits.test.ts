/**
 * Per-caller token limits through the local host running the built app against the simulator,
 * with the official `openai` client: a caller over its limit gets 429 with Retry-After and the
 * remaining-tokens headers before anything reaches Azure; a request is settled with the usage
 * Azure reported (an estimate that was too high gives tokens back), streams at their end; and with
 * CALLER_LIMITS_STORE=storage two app instances share one count.
 *
 * Callers are named with the `x-caller` header (HTTP_AUTH_LEVEL=anonymous, src/http/caller.ts),
 * one caller per test so that tests do not share counts. The assertions use the day quota: a
 * minute window could roll over in the middle of a test (window roll-over is tested with the
 * limiter's clock in test/caller-limits/caller-limiter.test.ts).
 */
import OpenAI, { RateLimitError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { startHost, type LocalHost } from "../../tools/local-host/index.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { startStack, type Stack } from "../support/stack.js";

const CHAT = "gpt-4o-mini";
const EMBEDDINGS = "text-embedding-3-small";
const LIMITS = {
  default: { tokensPerDay: 1000 },
  both: { tokensPerMinute: 100000, tokensPerDay: 200000 },
  unlimited: {},
};

function clientFor(url: string, caller: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/api/v1`, apiKey: "unused", defaultHeaders: { "x-caller": caller }, maxRetries: 0 });
}

function secondsToUtcMidnight(): number {
  const now = Date.now();
  return Math.ceil((Math.ceil(now / 86_400_000) * 86_400_000 - now) / 1000);
}

describe("per-caller token limits (memory store)", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      env: { HTTP_AUTH_LEVEL: "anonymous", CALLER_TOKEN_LIMITS: JSON.stringify(LIMITS), AZURE_OPENAI_COMPLETIONS_DEPLOYMENT: "instruct" },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("answers a caller over its day quota 429 with Retry-After, its code and the remaining tokens, without calling Azure", async () => {
    const client = clientFor(stack.host.url, "quota-a");
    const { data, response } = await client.chat.completions
      .create({ model: CHAT, messages: [{ role: "user", content: "Say hello" }], max_tokens: 700 })
      .withResponse();
    const used = data.usage!.total_tokens;
    expect(response.headers.get("x-caller-tokens-consumed")).toBe(String(used));
    expect(response.headers.get("x-caller-remaining-quota-tokens")).toBe(String(1000 - used));
    expect(response.headers.get("x-caller-remaining-tokens")).toBeNull(); // no minute limit for this caller
    const before = (await stack.simulator.control.counters()).total.requests;

    const error = await client.chat.completions
      .create({ model: CHAT, messages: [{ role: "user", content: "Say hello again" }], max_tokens: 1000 - used })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(RateLimitError);
    const refused = error as RateLimitError;
    expect(refused.status).toBe(429);
    expect(refused.code).toBe("caller_token_limit_exceeded");
    expect(refused.message).toMatch(new RegExp(`Caller "quota-a" has used ${used} of its 1,000 tokens per UTC day`));
    expect(refused.message).toContain("CALLER_TOKEN_LIMITS");
    expect(Math.abs(Number(refused.headers?.get("retry-after")) - secondsToUtcMidnight())).toBeLessThanOrEqual(2);
    expect(refused.headers?.get("x-caller-remaining-quota-tokens")).toBe(String(1000 - used));
    // The client would otherwise wait until midnight UTC before its own retries.
    expect(refused.headers?.get("x-should-retry")).toBe("false");
    expect((await stack.simulator.control.counters()).total.requests).toBe(before);
    // The refusal is counted for the caller (aoai.caller_limit_rejections and a failed request).
    const usage = (await (await fetch(`${stack.host.url}/api/usage`)).json()) as {
      totals: { caller: string; model: string; failed: number }[];
    };
    expect(usage.totals.find((row) => row.caller === "quota-a" && row.model === CHAT)).toMatchObject({ failed: 1 });
  });

  it("settles with the real usage: an estimate far above it gives the difference back", async () => {
    const client = clientFor(stack.host.url, "settle-b");
    const ask = () =>
      client.chat.completions
        .create({ model: CHAT, messages: [{ role: "user", content: "One word, please" }], max_tokens: 600 })
        .withResponse();
    // Each reserves over 600 of 1000: the second passes only because the first was settled to its usage.
    const first = await ask();
    const second = await ask();
    const used = first.data.usage!.total_tokens + second.data.usage!.total_tokens;
    expect(second.response.headers.get("x-caller-remaining-quota-tokens")).toBe(String(1000 - used));
  });

  it("settles a stream at its end with the usage Azure sent, though the caller did not ask for it", async () => {
    const client = clientFor(stack.host.url, "stream-c");
    const { data: stream, response } = await client.chat.completions
      .create({ model: CHAT, messages: [{ role: "user", content: "Count to five" }], max_tokens: 600, stream: true })
      .withResponse();
    // When the stream starts, the estimate is reserved.
    const reservedLeft = Number(response.headers.get("x-caller-remaining-quota-tokens"));
    expect(reservedLeft).toBeLessThan(400);
    let chunks = 0;
    for await (const chunk of stream) {
      expect(chunk.usage ?? null).toBeNull();
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    // The next request sees the stream settled: its remaining is 1000 minus both real usages.
    const { data, response: next } = await client.embeddings.create({ model: EMBEDDINGS, input: "settled?" }).withResponse();
    const afterBoth = Number(next.headers.get("x-caller-remaining-quota-tokens"));
    const streamUsed = 1000 - data.usage.total_tokens - afterBoth;
    expect(streamUsed).toBeGreaterThan(0);
    expect(streamUsed).toBeLessThan(1000 - reservedLeft); // less than the estimate it reserved
    const journal = await stack.simulator.control.journal();
    const streamed = journal.find((entry) => entry.usage && entry.path.includes("chat") && entry.usage.total_tokens === streamUsed);
    expect(streamed).toBeDefined();
  });

  it("charges Responses and embeddings too, with both windows' headers for a caller limited on both", async () => {
    const client = clientFor(stack.host.url, "both");
    const { data: answer, response } = await client.responses
      .create({ model: CHAT, input: "Say hi", max_output_tokens: 50 })
      .withResponse();
    const used = answer.usage!.total_tokens;
    expect(response.headers.get("x-caller-tokens-consumed")).toBe(String(used));
    expect(response.headers.get("x-caller-remaining-quota-tokens")).toBe(String(200000 - used));
    const minuteLeft = Number(response.headers.get("x-caller-remaining-tokens"));
    // The minute may have rolled over since (then only this request counts in it).
    expect([100000 - used, 100000]).toContain(minuteLeft);
    const { data: embedded, response: next } = await client.embeddings.create({ model: EMBEDDINGS, input: ["a", "b c"] }).withResponse();
    expect(next.headers.get("x-caller-tokens-consumed")).toBe(String(embedded.usage.total_tokens));
    expect(next.headers.get("x-caller-remaining-quota-tokens")).toBe(String(200000 - used - embedded.usage.total_tokens));
  });

  it("charges legacy completions, streamed, and refuses them over the quota; speech, which is not billed in tokens, still passes", async () => {
    const client = clientFor(stack.host.url, "legacy-g");
    // The simulator ships no legacy completions model: add one, as an Azure resource would deploy it.
    await stack.simulator.control.putDeployment({
      name: "instruct",
      model: "gpt-35-turbo-instruct",
      modelVersion: "0914",
      capability: "completions",
    });
    const stream = await client.completions.create({
      model: "instruct",
      prompt: "Once upon a time",
      max_tokens: 400,
      stream: true,
      stream_options: { include_usage: true },
    });
    let used = 0;
    for await (const chunk of stream) used = chunk.usage?.total_tokens ?? used;
    expect(used).toBeGreaterThan(0);
    // 1000 - used left: a prompt with max_tokens 1000 - used + 1 cannot fit.
    const error = await client.completions.create({ model: "instruct", prompt: "And then", max_tokens: 1000 - used }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ status: 429, code: "caller_token_limit_exceeded" });
    expect((error as RateLimitError).headers?.get("x-caller-remaining-quota-tokens")).toBe(String(1000 - used));
    const speech = await client.audio.speech.create({ model: "gpt-4o-mini-tts", voice: "alloy", input: "Still allowed." });
    expect((await speech.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it("leaves a caller whose entry is empty unlimited: no headers, no refusal", async () => {
    const client = clientFor(stack.host.url, "unlimited");
    const { response } = await client.chat.completions
      .create({ model: CHAT, messages: [{ role: "user", content: "hi" }], max_tokens: 5000 })
      .withResponse();
    expect(response.headers.get("x-caller-remaining-quota-tokens")).toBeNull();
    expect(response.headers.get("x-caller-tokens-consumed")).toBeNull();
  });

  it("gives back a request Azure refused: nothing was billed", async () => {
    const client = clientFor(stack.host.url, "refused-d");
    await stack.simulator.control.setFaults(CHAT, [{ kind: 500, times: 1 }]);
    await expect(
      client.chat.completions.create({ model: CHAT, messages: [{ role: "user", content: "hi" }], max_tokens: 900 }),
    ).rejects.toMatchObject({ status: 502 });
    const { response } = await client.chat.completions
      .create({ model: CHAT, messages: [{ role: "user", content: "hi" }], max_tokens: 900 })
      .withResponse();
    expect(Number(response.headers.get("x-caller-remaining-quota-tokens"))).toBeGreaterThan(900);
  });
});

describe("per-caller token limits shared by two instances (CALLER_LIMITS_STORE=storage)", () => {
  let stack: Stack;
  let second: LocalHost;

  beforeAll(async () => {
    stack = await startStack({
      env: { HTTP_AUTH_LEVEL: "anonymous", CALLER_TOKEN_LIMITS: JSON.stringify(LIMITS), CALLER_LIMITS_STORE: "storage" },
    });
    // A second instance of the app: same settings, same storage, its own process and memory.
    second = await startHost({
      entry: path.join(REPO_ROOT, "dist/src/index.js"),
      cwd: REPO_ROOT,
      port: 0,
      env: stack.settings,
      isolateEnv: true,
    });
  });

  afterAll(async () => {
    await second?.stop();
    await stack?.stop();
  });

  it("counts what one instance spent in the other's answers", async () => {
    const a = clientFor(stack.host.url, "shared-e");
    const b = clientFor(second.url, "shared-e");
    const first = await a.embeddings.create({ model: EMBEDDINGS, input: "spent on instance one" }).withResponse();
    const usedA = first.data.usage.total_tokens;
    // A settlement is written after the answer has gone (docs/caller-limits.md): give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = await b.embeddings.create({ model: EMBEDDINGS, input: "spent on instance two" }).withResponse();
    expect(next.response.headers.get("x-caller-remaining-quota-tokens")).toBe(String(1000 - usedA - next.data.usage.total_tokens));
  });

  it("keeps a caller within its quota when both instances serve it at once", async () => {
    const clients = [clientFor(stack.host.url, "burst-f"), clientFor(second.url, "burst-f")];
    // 24 requests of about 40 tokens each (nearly 1000 in all) reserving 150 each: far more than fits at once.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) =>
        clients[i % 2]!.chat.completions.create({
          model: CHAT,
          messages: [{ role: "user", content: `Reply briefly (${i})` }],
          max_tokens: 130,
        }).withResponse(),
      ),
    );
    const passed = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
    expect(refused.length).toBeGreaterThan(0);
    for (const error of refused) expect(error).toMatchObject({ status: 429, code: "caller_token_limit_exceeded" });
    // Every reservation was at least its real usage, so what passed never sums over the quota.
    const consumed = passed.reduce((sum, p) => sum + Number(p.response.headers.get("x-caller-tokens-consumed")), 0);
    expect(consumed).toBeLessThanOrEqual(1000);
    const blobs: string[] = [];
    for await (const blob of stack.blobService.getContainerClient("caller-limits").listBlobsFlat({ prefix: "burst-f/" }))
      blobs.push(blob.name);
    expect(blobs).toEqual([`burst-f/${new Date().toISOString().slice(0, 10)}.json`]);
  });
});

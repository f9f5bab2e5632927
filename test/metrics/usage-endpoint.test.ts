/**
 * GET /api/usage and `npm run send -- usage` end to end: the built app on the local host with
 * function keys enforced, a named key (CALLER_NAMES) and a price table, chatting with the
 * simulator through the official `openai` client; the totals must match what the simulator
 * reported, by caller and model. METRICS_EXPORT=console prints the same totals in the host's output.
 */
import OpenAI from "openai";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyFingerprint } from "../../src/http/caller.js";
import type { UsageSnapshot } from "../../src/metrics/index.js";
import { fetchUsage, formatUsageTable } from "../../tools/send/commands.js";
import { startStack, type Stack } from "../support/stack.js";

const KEY = `usage-test-key-${randomUUID()}`;
/** Example prices (not Azure's). */
const PRICES = { currency: "USD", models: { "gpt-4o-mini": { inputPer1M: 0.15, outputPer1M: 0.6 } } };

let stack: Stack;
let client: OpenAI;
const hostOutput: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    env: {
      CALLER_NAMES: JSON.stringify({ "team-a": keyFingerprint(KEY) }),
      AI_PRICES: JSON.stringify(PRICES),
      METRICS_EXPORT: "console",
      METRICS_CONSOLE_INTERVAL_MS: "1000",
    },
    host: { enforceKeys: true, keys: { default: KEY }, onLog: (line) => hostOutput.push(line) },
  });
  client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", defaultHeaders: { "x-functions-key": KEY }, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe("GET /api/usage", () => {
  it("totals tokens and cost by caller and model since the app started, without the prompt", async () => {
    const marker = `MARKER-${randomUUID()}`;
    const answer = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: `${marker} hello` }] });
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Tell me more" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) streamed = chunk.usage ?? streamed;
    const prompt = answer.usage!.prompt_tokens + streamed!.prompt_tokens;
    const completion = answer.usage!.completion_tokens + streamed!.completion_tokens;

    // A stream is counted when it ends, just after its last event reached us.
    let usage: UsageSnapshot | undefined;
    for (let tries = 0; tries < 50; tries++) {
      usage = await fetchUsage(stack.host.url, KEY);
      if (usage.totals[0]?.requests === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(usage!.currency).toBe("USD");
    expect(usage!.totals).toHaveLength(1);
    const total = usage!.totals[0]!;
    expect(total).toMatchObject({
      caller: "team-a",
      model: "gpt-4o-mini",
      requests: 2,
      failed: 0,
      tokens: { prompt, completion, cached: 0, reasoning: 0 },
    });
    expect(total.cost).toBeCloseTo((prompt * 0.15 + completion * 0.6) / 1_000_000, 12);
    const body = JSON.stringify(usage);
    expect(body).not.toContain(marker);
    expect(body).not.toContain(KEY);

    // What `npm run send -- usage` prints.
    const table = formatUsageTable(usage!);
    expect(table).toMatch(
      new RegExp(`team-a\\s+gpt-4o-mini\\s+2\\s+0\\s+${prompt}\\s+0\\s+${completion}\\s+0\\s+0\\.00\\s+0\\s+${total.cost.toFixed(6)}`),
    );

    // The console summary, printed by the app within its interval.
    for (let tries = 0; tries < 40 && !hostOutput.some((line) => line.includes("team-a gpt-4o-mini: 2 req")); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(hostOutput.find((line) => line.includes("team-a gpt-4o-mini: 2 req"))).toContain(
      `tokens prompt ${prompt} completion ${completion}`,
    );
  });

  it("needs the function key like the other routes", async () => {
    expect((await fetch(`${stack.host.url}/api/usage`)).status).toBe(401);
  });
});

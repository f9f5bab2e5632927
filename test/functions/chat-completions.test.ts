/**
 * POST /api/v1/chat/completions through the local Functions host running the built app, against
 * the simulator, with the official `openai` client configured exactly as an app would.
 */
import path from "node:path";
import { createParser } from "eventsource-parser";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startHost } from "../../tools/local-host/index.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { type Stack } from "../support/stack.js";
import { FUNCTION_KEY, startKeyedStack } from "./keyed-stack.js";

const KEY = FUNCTION_KEY;
const DEPLOYMENT = "gpt-4o-mini";
const USER = [{ role: "user" as const, content: "Tell me about the weather in Paris" }];

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  ({ stack, client } = await startKeyedStack());
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(async () => {
  await stack.simulator.control.reset();
});

/** Raw POST, for what the openai client would never send. */
function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.host.url}/api/v1/${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-functions-key": KEY, ...headers },
  });
}

interface SseRead {
  events: { data: string; at: number }[];
  comments: { text: string; at: number }[];
}

/** Reads an SSE response with eventsource-parser, timestamping each event (ms since the request). */
async function readSse(response: Response, startedAt: number): Promise<SseRead> {
  const read: SseRead = { events: [], comments: [] };
  const parser = createParser({
    onEvent: (e) => read.events.push({ data: e.data, at: performance.now() - startedAt }),
    onComment: (text) => read.comments.push({ text, at: performance.now() - startedAt }),
  });
  const decoder = new TextDecoder();
  for await (const bytes of response.body!) parser.feed(decoder.decode(bytes, { stream: true }));
  return read;
}

describe("non-streamed chat", () => {
  it("answers OpenAI's completion shape from the default deployment", async () => {
    const completion = await client.chat.completions.create({ model: DEPLOYMENT, messages: USER, max_tokens: 30 });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]!.message.role).toBe("assistant");
    expect(completion.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    const [entry] = await stack.simulator.control.journal({ deployment: DEPLOYMENT, limit: 1 });
    expect(entry).toBeDefined();
  });

  it("works without `model` (the configured chat deployment is the default)", async () => {
    const response = await post("chat/completions", JSON.stringify({ messages: USER, max_tokens: 5 }));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: unknown[] }).choices).toHaveLength(1);
  });
});

describe("pass-through", () => {
  it("forwards images, response_format, seed, stop and token limits to Azure unchanged; the app authenticates with its identity", async () => {
    const request = {
      model: DEPLOYMENT,
      messages: [
        {
          role: "user" as const,
          content: [
            { type: "text" as const, text: "Describe the picture as JSON" },
            { type: "image_url" as const, image_url: { url: "https://example.com/cat.png", detail: "low" as const } },
          ],
        },
      ],
      response_format: {
        type: "json_schema" as const,
        json_schema: { name: "picture", schema: { type: "object", properties: { subject: { type: "string" } }, required: ["subject"] } },
      },
      seed: 42,
      stop: ["END"],
      max_completion_tokens: 60,
    };
    const completion = await client.chat.completions.create(request);
    expect(JSON.parse(completion.choices[0]!.message.content!)).toHaveProperty("subject");
    const [entry] = await stack.simulator.control.journal({ deployment: DEPLOYMENT, limit: 1 });
    const { model: _model, ...forwarded } = request;
    expect(entry!.body).toMatchObject(forwarded);
    expect(entry!.auth).toBe("entra");
    expect(JSON.stringify(entry!.headers)).not.toContain(KEY); // the caller's function key stays with the app
  });
});

describe("streamed chat", () => {
  it("streams OpenAI chunks: every chunk has a choice, Azure's prompt filter results ride on the first", async () => {
    const stream = await client.chat.completions.create({ model: DEPLOYMENT, messages: USER, max_tokens: 20, seed: 3, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.choices.length === 1 && c.object === "chat.completion.chunk")).toBe(true);
    expect((chunks[0] as unknown as { prompt_filter_results?: unknown }).prompt_filter_results).toBeDefined();
    expect(chunks.at(-1)!.choices[0]!.finish_reason).not.toBeNull();
    expect(chunks.some((c) => "usage" in c)).toBe(false);

    // Same seed, same text as the non-streamed answer.
    const streamedText = chunks.map((c) => c.choices[0]!.delta.content ?? "").join("");
    const whole = await client.chat.completions.create({ model: DEPLOYMENT, messages: USER, max_tokens: 20, seed: 3 });
    expect(streamedText).toBe(whole.choices[0]!.message.content);
  });

  it("sends the usage chunk last when stream_options.include_usage asks for it", async () => {
    const stream = await client.chat.completions.create({
      model: DEPLOYMENT,
      messages: USER,
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + last.usage!.completion_tokens);
  });

  it("uses OpenAI's exact framing: text/event-stream, data: {json} events, data: [DONE]", async () => {
    const startedAt = performance.now();
    const response = await post("chat/completions", JSON.stringify({ messages: USER, max_tokens: 5, stream: true }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const { events } = await readSse(response, startedAt);
    expect(events.at(-1)!.data).toBe("[DONE]");
    for (const event of events.slice(0, -1)) expect(JSON.parse(event.data)).toHaveProperty("choices");
  });

  it("streams tool calls that the openai stream helper assembles", async () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          description: "Weather for a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ];
    const runner = client.chat.completions.stream({ model: DEPLOYMENT, messages: USER, tools, tool_choice: "required" });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call.type).toBe("function");
    if (call.type !== "function") return;
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toHaveProperty("city");

    const plain = await client.chat.completions.create({ model: DEPLOYMENT, messages: USER, tools, tool_choice: "required" });
    expect(plain.choices[0]!.finish_reason).toBe("tool_calls");
  });

  it("delivers chunks as the upstream paces them (no buffering)", async () => {
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 50, tokensPerSecond: 20, stdDevRatio: 0 });
    const startedAt = performance.now();
    const response = await post("chat/completions", JSON.stringify({ messages: USER, max_tokens: 12, stream: true }));
    const { events } = await readSse(response, startedAt);
    const content = events.filter((e) => e.data !== "[DONE]" && JSON.parse(e.data).choices[0]?.delta?.content);
    expect(content.length).toBeGreaterThanOrEqual(10);
    // The simulator sends one token every 50 ms: arrivals must be spread the same way, not bunched.
    const gaps = content.slice(1).map((e, i) => e.at - content[i]!.at);
    const sorted = [...gaps].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    expect(median).toBeGreaterThan(35);
    expect(median).toBeLessThan(65);
    expect(content.at(-1)!.at - content[0]!.at).toBeGreaterThan(50 * (content.length - 1) * 0.8);
  });

  it("sends a keep-alive comment while the first token is slow", async () => {
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 1600, stdDevRatio: 0 });
    const startedAt = performance.now();
    const response = await post("chat/completions", JSON.stringify({ messages: USER, max_tokens: 3, stream: true }));
    expect(response.status).toBe(200);
    const { events, comments } = await readSse(response, startedAt);
    expect(comments.length).toBeGreaterThanOrEqual(1);
    expect(comments[0]!.at).toBeLessThan(events[0]!.at - 300);
    expect(events.at(-1)!.data).toBe("[DONE]");
  });
});

describe("with the dated API style (AzureOpenAI client upstream)", () => {
  it("streams and answers the same way", async () => {
    const host = await startHost({
      entry: path.join(REPO_ROOT, "dist/src/index.js"),
      cwd: REPO_ROOT,
      port: 0,
      isolateEnv: true,
      env: { ...stack.settings, AZURE_OPENAI_API_STYLE: "dated", HTTP_AUTH_LEVEL: "anonymous" },
    });
    try {
      const dated = new OpenAI({ baseURL: `${host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
      const stream = await dated.chat.completions.create({
        model: DEPLOYMENT,
        messages: USER,
        max_tokens: 8,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.slice(0, -1).every((c) => c.choices.length === 1)).toBe(true);
      expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
      const [entry] = await stack.simulator.control.journal({ deployment: DEPLOYMENT, limit: 1 });
      expect(entry!.apiStyle).toBe("dated");
    } finally {
      await host.stop();
    }
  });
});

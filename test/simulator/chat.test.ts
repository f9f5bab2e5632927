import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { BadRequestError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, readSse, startFast, v1Client } from "./helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({
    deployments: [
      { name: "gpt-4o-mini", model: "gpt-4o-mini", modelVersion: "2024-07-18", capability: "chat", tpm: 1_000_000, rpm: 1000 },
      { name: "async-filter", model: "gpt-4o", modelVersion: "2024-11-20", capability: "chat", contentFilterMode: "asynchronous" },
      { name: "instruct", model: "gpt-35-turbo-instruct", capability: "completions" },
    ],
  });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

const user = (content: string) => ({ role: "user" as const, content });

/** A raw chunk as it arrives, with the fields these tests look at. */
interface Chunk {
  id: string;
  object: string;
  model: string;
  choices: {
    index: number;
    delta: { content?: string; role?: string };
    finish_reason: string | null;
    content_filter_results: Record<string, unknown>;
    content_filter_offsets?: Record<string, number>;
  }[];
  usage?: { completion_tokens: number };
}

function rawChat(body: unknown, deployment = "gpt-4o-mini", signal?: AbortSignal): Promise<Response> {
  return fetch(`${sim.url}/openai/deployments/${deployment}/chat/completions?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

describe("usage from a real tokenizer", () => {
  it("counts messages as OpenAI documents: 3 per message, 1 per name, 3 for the reply", async () => {
    const client = azureClient(sim);
    const r = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "system", content: "You are terse." }, user("Hello there"), { role: "user", name: "bob", content: "Hi" }],
    });
    const expected =
      3 +
      (3 + 1 + encode("You are terse.").length) +
      (3 + 1 + encode("Hello there").length) +
      (3 + 1 + 1 + encode("bob").length + encode("Hi").length);
    expect(r.usage!.prompt_tokens).toBe(expected);
    expect(r.usage!.completion_tokens).toBe(encode(r.choices[0]!.message.content!).length);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it("handles content-part arrays (text and images) and tool definitions", async () => {
    const client = azureClient(sim);
    const plain = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [user("Describe this")] });
    const parts = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Describe this" },
            { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "low" } },
          ],
        },
      ],
    });
    expect(parts.usage!.prompt_tokens).toBe(plain.usage!.prompt_tokens + 85);
    const tools = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [user("Describe this")],
      tools: [
        {
          type: "function",
          function: {
            name: "lookup",
            description: "Look a word up",
            parameters: { type: "object", properties: { word: { type: "string" } } },
          },
        },
      ],
      tool_choice: "none",
    });
    expect(tools.usage!.prompt_tokens).toBeGreaterThan(plain.usage!.prompt_tokens + 5);
  });

  it("the journal and counters record the usage", async () => {
    const r = await azureClient(sim).chat.completions.create({ model: "gpt-4o-mini", messages: [user("Hello")], max_tokens: 50 });
    const [entry] = await sim.control.journal();
    expect(entry!.usage).toEqual({
      prompt_tokens: r.usage!.prompt_tokens,
      completion_tokens: r.usage!.completion_tokens,
      total_tokens: r.usage!.total_tokens,
    });
    expect(entry!.chargedTokens).toBe(r.usage!.prompt_tokens + 50);
    const counters = await sim.control.counters();
    expect(counters.deployments["gpt-4o-mini"]).toMatchObject({ requests: 1, totalTokens: r.usage!.total_tokens, statuses: { 200: 1 } });
  });
});

describe("generation", () => {
  it("is deterministic for a seed, different without one, and honours n", async () => {
    const client = azureClient(sim);
    const ask = (seed?: number) =>
      client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [user("Tell me a story")],
        n: 3,
        ...(seed !== undefined ? { seed } : {}),
      });
    const a = await ask(7);
    const b = await ask(7);
    expect(a.choices).toHaveLength(3);
    expect(a.choices.map((c) => c.message.content)).toEqual(b.choices.map((c) => c.message.content));
    expect(new Set(a.choices.map((c) => c.message.content)).size).toBe(3);
    const c = await ask(8);
    expect(c.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
    const d = await ask();
    const e = await ask();
    expect(d.choices[0]!.message.content).not.toBe(e.choices[0]!.message.content);
  });

  it("max_tokens cuts with finish_reason length; stop sequences cut with stop", async () => {
    const client = azureClient(sim);
    const r = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [user("Long please")], max_tokens: 5 });
    expect(r.choices[0]!.finish_reason).toBe("length");
    expect(r.usage!.completion_tokens).toBe(5);
    const full = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [user("x")], seed: 1 });
    const word = full.choices[0]!.message.content!.split(" ")[3]!;
    const cut = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [user("x")], seed: 1, stop: [` ${word}`] });
    expect(full.choices[0]!.message.content!.startsWith(cut.choices[0]!.message.content!)).toBe(true);
    expect(cut.choices[0]!.message.content!.includes(` ${word}`)).toBe(false);
    expect(cut.choices[0]!.finish_reason).toBe("stop");
  });

  it("tool calls when tool_choice asks, with arguments that follow the schema", async () => {
    const client = azureClient(sim);
    const tools = [
      { type: "function" as const, function: { name: "noop", parameters: { type: "object", properties: {} } } },
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: {
            type: "object",
            properties: {
              city: { type: "string" },
              unit: { type: "string", enum: ["c", "f"] },
              days: { type: "integer", minimum: 1, maximum: 7 },
            },
            required: ["city", "unit"],
          },
        },
      },
    ];
    const named = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [user("Weather in Oslo?")],
      tools,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const call = named.choices[0]!.message.tool_calls![0]!;
    expect(named.choices[0]!.finish_reason).toBe("tool_calls");
    expect(named.choices[0]!.message.content).toBeNull();
    expect(call.type === "function" && call.function.name).toBe("get_weather");
    const args = JSON.parse(call.type === "function" ? call.function.arguments : "{}") as { city: string; unit: string; days: number };
    expect(typeof args.city).toBe("string");
    expect(args.unit).toBe("c");
    expect(args.days).toBeGreaterThanOrEqual(1);
    expect(args.days).toBeLessThanOrEqual(7);

    const required = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [user("x")], tools, tool_choice: "required" });
    expect(required.choices[0]!.message.tool_calls).toHaveLength(1);
    const none = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [user("x")], tools, tool_choice: "none" });
    expect(none.choices[0]!.message.tool_calls).toBeUndefined();
    // auto: a user turn gets a call, a tool result gets an answer, so agent loops end.
    const auto1 = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [user("x")], tools });
    expect(auto1.choices[0]!.finish_reason).toBe("tool_calls");
    const id = auto1.choices[0]!.message.tool_calls![0]!.id;
    const auto2 = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [user("x"), auto1.choices[0]!.message, { role: "tool", tool_call_id: id, content: "sunny" }],
      tools,
    });
    expect(auto2.choices[0]!.finish_reason).toBe("stop");
    expect(auto2.choices[0]!.message.content).toMatch(/\w/);
  });

  it("response_format json_object and json_schema give JSON that parses and has the required keys", async () => {
    const client = v1Client(sim);
    const obj = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [user("Answer in JSON")],
      response_format: { type: "json_object" },
    });
    expect(typeof JSON.parse(obj.choices[0]!.message.content!)).toBe("object");
    const schema = {
      type: "object",
      properties: {
        name: { type: "string" },
        age: { type: "integer" },
        tags: { type: "array", items: { type: "string" } },
        address: { $ref: "#/$defs/address" },
        kind: { anyOf: [{ type: "null" }, { type: "string", enum: ["a", "b"] }] },
      },
      required: ["name", "age", "tags", "address", "kind"],
      additionalProperties: false,
      $defs: { address: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
    };
    const r = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [user("A person")],
      response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema } },
    });
    const parsed = JSON.parse(r.choices[0]!.message.content!) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(["address", "age", "kind", "name", "tags"]);
    expect(parsed).toMatchObject({ age: expect.any(Number), tags: expect.any(Array), address: { city: expect.any(String) }, kind: "a" });
  });

  it("refuses what the service refuses, with OpenAI's errors", async () => {
    const client = azureClient(sim, { maxRetries: 0 });
    const cases: [unknown, string][] = [
      [{}, "messages"],
      [{ messages: [] }, "messages"],
      [{ messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
      [{ messages: [user("x")], response_format: { type: "json_object" } }, "messages"],
      [{ messages: [user("x")], stream_options: { include_usage: true } }, "stream_options"],
      [{ messages: [user("x")], tool_choice: "auto" }, "tool_choice"],
      [{ messages: [user("x")], n: 0 }, "n"],
      [{ messages: [user("x")], temperature: 3 }, "temperature"],
      [{ messages: [user("x")], max_tokens: 200_000 }, "messages"],
    ];
    for (const [body, param] of cases) {
      const e = await client.chat.completions.create({ model: "gpt-4o-mini", ...(body as object) } as never).catch((e: unknown) => e);
      expect(e, JSON.stringify(body)).toBeInstanceOf(BadRequestError);
      expect((e as BadRequestError).param, JSON.stringify(body)).toBe(param);
    }
  });

  it("legacy completions: prompts times n, echo, max_tokens default 16", async () => {
    const client = azureClient(sim);
    const r = await client.completions.create({ model: "instruct", prompt: ["One", "Two"], n: 2, echo: true });
    expect(r.choices).toHaveLength(4);
    expect(r.choices[0]!.text.startsWith("One")).toBe(true);
    expect(r.choices[2]!.text.startsWith("Two")).toBe(true);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(4 * 16);
    const stream = await client.completions.create({ model: "instruct", prompt: "Go", max_tokens: 4, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text.length).toBeGreaterThan(0);
  });
});

describe("streaming exactly as Azure sends it", () => {
  it("prompt filter chunk, role chunk, one chunk per token, finish chunk, usage chunk, [DONE]", async () => {
    const res = await rawChat({ messages: [user("Hi")], stream: true, stream_options: { include_usage: true }, max_tokens: 12, seed: 3 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("x-ratelimit-remaining-tokens")).toMatch(/^\d+$/);
    const events = await readSse(res);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);

    const [filter, role, ...rest] = chunks;
    expect(filter).toEqual({
      choices: [],
      created: 0,
      id: "",
      model: "",
      object: "",
      prompt_filter_results: [
        { prompt_index: 0, content_filter_results: expect.objectContaining({ jailbreak: { filtered: false, detected: false } }) },
      ],
    });
    expect(role!.choices[0]).toEqual({
      index: 0,
      delta: { role: "assistant", content: "", refusal: null },
      finish_reason: null,
      logprobs: null,
      content_filter_results: {},
    });
    const usage = rest.at(-1)!;
    const finish = rest.at(-2)!;
    const content = rest.slice(0, -2);
    expect(content).toHaveLength(12);
    for (const c of content) {
      expect(c).toMatchObject({ object: "chat.completion.chunk", model: "gpt-4o-mini-2024-07-18", id: role!.id });
      expect(Object.keys(c.choices[0]!.delta)).toEqual(["content"]);
      expect(c.choices[0]!.content_filter_results.hate).toEqual({ filtered: false, severity: "safe" });
      expect(encode(c.choices[0]!.delta.content!)).toHaveLength(1);
    }
    expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: "length" });
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.completion_tokens).toBe(12);

    // The same answer as without streaming.
    const whole = (await (await rawChat({ messages: [user("Hi")], max_tokens: 12, seed: 3 })).json()) as {
      choices: { message: { content: string } }[];
    };
    expect(content.map((c) => c.choices[0]!.delta.content).join("")).toBe(whole.choices[0]!.message.content);
  });

  it("no usage chunk unless asked", async () => {
    const events = await readSse(await rawChat({ messages: [user("Hi")], stream: true, max_tokens: 3 }));
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    expect(chunks.some((c) => "usage" in c)).toBe(false);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length");
  });

  it("asynchronous filter mode: annotation-only chunks with offsets after the content", async () => {
    const events = await readSse(await rawChat({ messages: [user("Hi")], stream: true, max_tokens: 4 }, "async-filter"));
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    const annotation = chunks.at(-1)!;
    expect(annotation).toMatchObject({
      id: "",
      object: "",
      choices: [{ index: 0, finish_reason: null, content_filter_offsets: { check_offset: 0, start_offset: 0 } }],
    });
    expect(annotation.choices[0]!.delta).toBeUndefined();
    expect(
      chunks.filter((c) => c.choices[0]?.delta?.content).every((c) => Object.keys(c.choices[0]!.content_filter_results).length === 0),
    ).toBe(true);
  });

  it("streamed tool calls: a header chunk, argument fragments, finish_reason tool_calls", async () => {
    const client = azureClient(sim);
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [user("Weather?")],
      stream: true,
      tools: [
        {
          type: "function",
          function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
        },
      ],
      tool_choice: "required",
    });
    let args = "";
    let name = "";
    let finish = "";
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      const call = choice?.delta?.tool_calls?.[0];
      if (call?.function?.name) name = call.function.name;
      args += call?.function?.arguments ?? "";
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toHaveProperty("city");
    expect(finish).toBe("tool_calls");
  });

  it("paces tokens by the latency model: time to first token, then tokens per second", async () => {
    await sim.control.setLatency("gpt-4o-mini", { timeToFirstTokenMs: 150, tokensPerSecond: 100, stdDevRatio: 0 });
    const started = performance.now();
    const stream = await azureClient(sim).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [user("Hi")],
      stream: true,
      max_tokens: 20,
    });
    const times: number[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) times.push(performance.now() - started);
    expect(times).toHaveLength(20);
    expect(times[0]!).toBeGreaterThanOrEqual(140);
    // 19 more tokens at 100/s: about 190 ms after the first.
    expect(times[19]! - times[0]!).toBeGreaterThanOrEqual(150);
    expect(times[19]! - times[0]!).toBeLessThan(600);
  });

  it("a client that disconnects stops generation, and the aborted stream is counted", async () => {
    await sim.control.setLatency("gpt-4o-mini", { timeToFirstTokenMs: 0, tokensPerSecond: 50, stdDevRatio: 0 });
    const controller = new AbortController();
    const stream = await azureClient(sim).chat.completions.create(
      { model: "gpt-4o-mini", messages: [user("Hi")], stream: true, max_tokens: 200 },
      { signal: controller.signal },
    );
    let received = 0;
    // The client ends the iteration quietly on its own abort.
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content && ++received === 3) controller.abort();
    }
    expect(received).toBe(3);
    await expect.poll(async () => (await sim.control.counters()).deployments["gpt-4o-mini"]!.abortedStreams).toBe(1);
    const [entry] = await sim.control.journal();
    expect(entry).toMatchObject({ aborted: true, stream: true });
    // Only what was generated before the disconnect is counted, not the 200 asked for.
    expect(entry!.usage!.completion_tokens).toBeLessThan(20);
    const counters = await sim.control.counters();
    expect(counters.deployments["gpt-4o-mini"]!.streams).toBe(1);
  });
});

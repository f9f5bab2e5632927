import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { AzureOpenAI, BadRequestError, NotFoundError, OpenAI, RateLimitError } from "openai";
import { zodTextFormat } from "openai/helpers/zod";
import type { Response as ModelResponse, ResponseFunctionToolCall, ResponseOutputMessage } from "openai/resources/responses/responses";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { FAULT_HEADER, type Simulator } from "../../tools/simulator/index.js";
import { readTypedSse, startFast, unexpected, v1Client, type TypedEvent } from "./helpers.js";

const RESPONSES_API_VERSION = "2025-04-01-preview";
const QUOTA_WINDOW_MS = 1000;

let sim: Simulator;
let v1: OpenAI;
let dated: AzureOpenAI;
beforeAll(async () => {
  sim = await startFast({
    deployments: [
      { name: "gpt-4o-mini", model: "gpt-4o-mini", modelVersion: "2024-07-18", capability: "chat" },
      { name: "small", model: "gpt-4o-mini", capability: "chat", tpm: 300, rpm: 100, quotaWindowMs: QUOTA_WINDOW_MS },
      { name: "paced", model: "gpt-4o", capability: "chat", latency: { timeToFirstTokenMs: 150, tokensPerSecond: 100, stdDevRatio: 0 } },
      { name: "text-embedding-3-small", model: "text-embedding-3-small", capability: "embeddings" },
    ],
  });
  v1 = v1Client(sim, { maxRetries: 0 });
  dated = new AzureOpenAI({ endpoint: sim.url, apiVersion: RESPONSES_API_VERSION, apiKey: sim.apiKey, maxRetries: 0 });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  description: "The weather in a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
    required: ["city", "unit"],
    additionalProperties: false,
  },
  strict: true,
};

/** POST to the v1 responses path with a raw body, to see the wire format and send what the SDK would not. */
function rawCreate(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.url}/openai/v1/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function rawGet(path: string, method = "GET"): Promise<Response> {
  return fetch(`${sim.url}/openai/v1/responses/${path}`, { method, headers: { authorization: `Bearer ${sim.apiKey}` } });
}

/** What arrived of a body before the connection was cut. */
async function readUntilCut(res: Response): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return text;
  }
}

function message(response: ModelResponse): ResponseOutputMessage {
  const item = response.output[0]!;
  expect(item.type).toBe("message");
  return item as ResponseOutputMessage;
}

function functionCall(response: ModelResponse): ResponseFunctionToolCall {
  const item = response.output[0]!;
  expect(item.type).toBe("function_call");
  return item as ResponseFunctionToolCall;
}

function validator(schema: object) {
  const ajv = new Ajv2020.default({ strict: false });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

describe("creating a response", () => {
  it("answers a response object with the model's text and usage counted as chat counts it", async () => {
    const r = await v1.responses.create({ model: "gpt-4o-mini", input: "Hello there", instructions: "Answer briefly." });
    expect(r.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(r).toMatchObject({ object: "response", status: "completed", model: "gpt-4o-mini-2024-07-18", instructions: "Answer briefly." });
    expect(r.error).toBeNull();
    expect(r.incomplete_details).toBeNull();
    const item = message(r);
    expect(item).toMatchObject({ role: "assistant", status: "completed" });
    expect(item.id).toMatch(/^msg_/);
    const text = (item.content[0] as { type: string; text: string }).text;
    expect(text.split(" ").length).toBeGreaterThan(5);
    expect(r.output_text).toBe(text);
    // The instructions as a system message and the input as a user message, 3 tokens each plus 3 to prime the reply.
    const input =
      3 + (3 + encode("system").length + encode("Answer briefly.").length) + (3 + encode("user").length + encode("Hello there").length);
    expect(r.usage).toEqual({
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: encode(text).length,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input + encode(text).length,
    });
  });

  it("output_text is the SDK's convenience, not on the wire; temperature and top_p are echoed", async () => {
    const res = await rawCreate({ model: "gpt-4o-mini", input: "Hi", temperature: 0.2, top_p: 0.5, metadata: { run: "a" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty("output_text");
    expect(body).toMatchObject({ temperature: 0.2, top_p: 0.5, metadata: { run: "a" }, store: true, tool_choice: "auto", tools: [] });
  });

  it("is reproducible: the same conversation gives the same text, another input another", async () => {
    const a = await v1.responses.create({ model: "gpt-4o-mini", input: "Tell me about rivers" });
    const b = await v1.responses.create({ model: "gpt-4o-mini", input: "Tell me about rivers" });
    const c = await v1.responses.create({ model: "gpt-4o-mini", input: "Tell me about mountains" });
    expect(b.output_text).toBe(a.output_text);
    expect(b.id).not.toBe(a.id);
    expect(c.output_text).not.toBe(a.output_text);
  });

  it("takes input items: messages with text and image parts, roles, and counts images by detail", async () => {
    const parts = await v1.responses.create({
      model: "gpt-4o-mini",
      input: [
        { role: "developer", content: "Be precise." },
        {
          role: "user",
          content: [
            { type: "input_text", text: "What is in this picture?" },
            { type: "input_image", image_url: "https://example.com/a.png", detail: "low" },
          ],
        },
      ],
    });
    const expected =
      3 +
      (3 + encode("developer").length + encode("Be precise.").length) +
      (3 + encode("user").length + encode("What is in this picture?").length + 85);
    expect(parts.usage!.input_tokens).toBe(expected);
  });

  it("refuses what the service refuses, with OpenAI's errors", async () => {
    const cases: [unknown, string | null, string][] = [
      [{ model: "gpt-4o-mini", input: "x", max_tokens: 50 }, "max_tokens", "unknown_parameter"],
      [{ model: "gpt-4o-mini" }, "input", "missing_required_parameter"],
      [{ model: "gpt-4o-mini", input: 5 }, "input", "invalid_type"],
      [{ model: "gpt-4o-mini", input: [{ role: "wizard", content: "x" }] }, "input[0].role", "invalid_value"],
      [
        { model: "gpt-4o-mini", input: [{ role: "user", content: [{ type: "text", text: "x" }] }] },
        "input[0].content[0].type",
        "invalid_value",
      ],
      [{ model: "gpt-4o-mini", input: "x", max_output_tokens: 5 }, "max_output_tokens", "integer_below_min_value"],
      [{ model: "gpt-4o-mini", input: "x", temperature: 3 }, "temperature", "invalid_value"],
      [
        { model: "gpt-4o-mini", input: "x", text: { format: { type: "json_schema", schema: {} } } },
        "text.format.name",
        "missing_required_parameter",
      ],
      [{ model: "gpt-4o-mini", input: "x", tools: [{ type: "web_search_preview" }] }, "tools[0].type", "invalid_value"],
      [{ model: "gpt-4o-mini", input: "x", tool_choice: "required" }, "tool_choice", "invalid_value"],
      [{ model: "gpt-4o-mini", input: "x", stream_options: { include_obfuscation: false } }, "stream_options", "invalid_value"],
      [{ model: "gpt-4o-mini", input: "x", background: true }, "background", "unsupported_parameter"],
    ];
    for (const [body, param, code] of cases) {
      const res = await rawCreate(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = ((await res.json()) as { error: { param: string | null; code: string | null; type: string } }).error;
      expect(error, JSON.stringify(body)).toMatchObject({ type: "invalid_request_error", param, code });
    }
    const e = await v1.responses
      .create({ model: "gpt-4o-mini", input: "x", text: { format: { type: "json_object" } } })
      .then(unexpected, (e: unknown) => e);
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).message).toContain("must contain the word 'json'");
  });

  it("a context over the window: 400, unless truncation is auto, which drops the oldest items", async () => {
    await sim.control.putDeployment({ name: "tiny-window", model: "gpt-4o-mini", capability: "chat", maxInputTokens: 120 });
    const long = [
      { role: "user" as const, content: "word ".repeat(150) },
      { role: "assistant" as const, content: "noted" },
      { role: "user" as const, content: "Short question?" },
    ];
    const refused = await v1.responses.create({ model: "tiny-window", input: long }).then(unexpected, (e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).code).toBe("context_length_exceeded");
    const truncated = await v1.responses.create({ model: "tiny-window", input: long, truncation: "auto" });
    expect(truncated.truncation).toBe("auto");
    expect(truncated.usage!.input_tokens).toBeLessThanOrEqual(120);
  });

  it("max_output_tokens cuts the answer: status incomplete, reason max_output_tokens", async () => {
    const r = await v1.responses.create({ model: "gpt-4o-mini", input: "Write a long story", max_output_tokens: 16 });
    expect(r.status).toBe("incomplete");
    expect(r.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(r.max_output_tokens).toBe(16);
    expect(r.usage!.output_tokens).toBe(16);
    expect(encode(r.output_text)).toHaveLength(16);
    expect(message(r).status).toBe("incomplete");
    expect(r.completed_at).toBeNull();
  });

  it("structured output: text.format json_schema gives JSON that parses and validates, and the SDK's parse reads it", async () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string" },
        age: { type: "integer", minimum: 0, maximum: 120 },
        tags: { type: "array", items: { type: "string" } },
        contact: {
          type: "object",
          properties: { email: { type: "string", format: "email" } },
          required: ["email"],
          additionalProperties: false,
        },
      },
      required: ["name", "age", "tags", "contact"],
      additionalProperties: false,
    };
    const r = await v1.responses.create({
      model: "gpt-4o-mini",
      input: "Invent a person",
      text: { format: { type: "json_schema", name: "person", schema, strict: true } },
    });
    expect(r.text).toMatchObject({ format: { type: "json_schema", name: "person", strict: true } });
    const validate = validator(schema);
    const parsed: unknown = JSON.parse(r.output_text);
    expect(validate(parsed), JSON.stringify(validate.errors)).toBe(true);

    const Person = z.object({ name: z.string(), age: z.number().int().min(0).max(120), hobbies: z.array(z.string()) });
    const withSdk = await v1.responses.parse({
      model: "gpt-4o-mini",
      input: "Invent a person",
      text: { format: zodTextFormat(Person, "person") },
    });
    expect(Person.safeParse(withSdk.output_parsed).success).toBe(true);
    expect(withSdk.output_parsed!.hobbies.length).toBeGreaterThan(0);
  });

  it("log probabilities when include asks for them", async () => {
    const r = await v1.responses.create({ model: "gpt-4o-mini", input: "Hi", include: ["message.output_text.logprobs"], top_logprobs: 2 });
    const part = message(r).content[0] as { text: string; logprobs: { token: string; logprob: number; top_logprobs: unknown[] }[] };
    expect(part.logprobs.map((entry) => entry.token).join("")).toBe(part.text);
    expect(part.logprobs[0]!.top_logprobs).toHaveLength(2);
    expect(part.logprobs.every((entry) => entry.logprob <= 0)).toBe(true);
  });
});

describe("streaming", () => {
  const expectedTextEvents = (deltas: number) => [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    ...Array<string>(deltas).fill("response.output_text.delta"),
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
  ];

  it("OpenAI's typed events in order, sequence numbers from 0, the deltas adding up to the final text", async () => {
    const res = await rawCreate({ model: "gpt-4o-mini", input: "Tell me something", stream: true });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = await readTypedSse(res);
    const deltas = events.filter((e) => e.type === "response.output_text.delta");
    expect(events.map((e) => e.type)).toEqual([...expectedTextEvents(deltas.length), "response.completed"]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const text = deltas.map((e) => e.delta as string).join("");
    const created = events[0]!.response as ModelResponse;
    const completed = events.at(-1)!.response as ModelResponse;
    expect(created).toMatchObject({ status: "in_progress", output: [] });
    expect(created.usage).toBeUndefined();
    expect(completed.id).toBe(created.id);
    expect(completed.status).toBe("completed");
    expect((completed.output[0] as ResponseOutputMessage).content[0]).toMatchObject({ type: "output_text", text });
    expect(events.find((e) => e.type === "response.output_text.done")!.text).toBe(text);
    expect(completed.usage!.output_tokens).toBe(deltas.length);
    const itemId = (events[2]!.item as { id: string }).id;
    expect(deltas.every((e) => e.item_id === itemId && e.output_index === 0 && e.content_index === 0)).toBe(true);
    // The same request unstreamed says the same.
    const whole = await v1.responses.create({ model: "gpt-4o-mini", input: "Tell me something" });
    expect(whole.output_text).toBe(text);
  });

  it("the SDK's responses.stream() and create({stream: true}) assemble the final response", async () => {
    const deltas: string[] = [];
    const stream = v1.responses.stream({ model: "gpt-4o-mini", input: "Say something" });
    stream.on("response.output_text.delta", (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(final.status).toBe("completed");
    expect(final.output_text).toBe(deltas.join(""));
    expect(deltas.length).toBe(final.usage!.output_tokens);

    const sequence: number[] = [];
    let completed: ModelResponse | undefined;
    for await (const event of await v1.responses.create({ model: "gpt-4o-mini", input: "Say something", stream: true })) {
      sequence.push(event.sequence_number);
      if (event.type === "response.completed") completed = event.response;
    }
    expect(sequence).toEqual(sequence.map((_, i) => i));
    expect(
      completed!.output_text ?? (completed!.output[0] as ResponseOutputMessage).content.map((c) => ("text" in c ? c.text : "")).join(""),
    ).toBe(final.output_text);
  });

  it("max_output_tokens streamed: the last event is response.incomplete", async () => {
    const events = await readTypedSse(
      await rawCreate({ model: "gpt-4o-mini", input: "A long story", stream: true, max_output_tokens: 16 }),
    );
    expect(events.filter((e) => e.type === "response.output_text.delta")).toHaveLength(16);
    const last = events.at(-1)!;
    expect(last.type).toBe("response.incomplete");
    expect(last.response).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    expect(events.find((e) => e.type === "response.output_item.done")!.item).toMatchObject({ status: "incomplete" });
  });

  it("paces the stream by the latency model: time to first token, then tokens per second", async () => {
    const started = performance.now();
    const arrivals: number[] = [];
    const stream = v1.responses.stream({ model: "paced", input: "Hello", max_output_tokens: 20 });
    stream.on("response.output_text.delta", () => arrivals.push(performance.now() - started));
    await stream.finalResponse();
    expect(arrivals).toHaveLength(20);
    expect(arrivals[0]).toBeGreaterThanOrEqual(140);
    // 19 more tokens at 100 per second.
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(170);
  });
});

describe("function tools", () => {
  it("a round trip: a function_call with arguments that follow the schema, then its output via previous_response_id", async () => {
    const first = await v1.responses.create({ model: "gpt-4o-mini", input: "What is the weather in Paris?", tools: [weatherTool] });
    const call = functionCall(first);
    expect(call.call_id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(call.id).toMatch(/^fc_/);
    expect(call.name).toBe("get_weather");
    const validate = validator(weatherTool.parameters);
    expect(validate(JSON.parse(call.arguments)), JSON.stringify(validate.errors)).toBe(true);
    expect(first.tools).toEqual([weatherTool]);

    const second = await v1.responses.create({
      model: "gpt-4o-mini",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: '{"temperature": 21}' }],
      tools: [weatherTool],
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(message(second).content[0]!.type).toBe("output_text");
    expect(second.output_text.length).toBeGreaterThan(0);
    // The whole conversation is the context: the first input, the call, its output.
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);
  });

  it("the same round trip without previous_response_id, sending the call back as an input item", async () => {
    const first = await v1.responses.create({ model: "gpt-4o-mini", input: "Weather in Oslo?", tools: [weatherTool], store: false });
    const call = functionCall(first);
    const second = await v1.responses.create({
      model: "gpt-4o-mini",
      input: [
        { role: "user", content: "Weather in Oslo?" },
        { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: "function_call_output", call_id: call.call_id, output: "Cold" },
      ],
      tools: [weatherTool],
    });
    expect(second.output[0]!.type).toBe("message");
  });

  it("a function call output that answers no call: 400", async () => {
    const e = await v1.responses
      .create({ model: "gpt-4o-mini", input: [{ type: "function_call_output", call_id: "call_nobody", output: "x" }] })
      .then(unexpected, (e: unknown) => e);
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).message).toContain("No tool call found for function call output with call_id call_nobody");
  });

  it("tool_choice: none answers in text, a named function is called, allowed_tools narrows the choice", async () => {
    const other = {
      type: "function" as const,
      name: "get_time",
      parameters: { type: "object", properties: { zone: { type: "string" } } },
      strict: false,
    };
    const none = await v1.responses.create({ model: "gpt-4o-mini", input: "Weather?", tools: [weatherTool, other], tool_choice: "none" });
    expect(none.output[0]!.type).toBe("message");
    const named = await v1.responses.create({
      model: "gpt-4o-mini",
      input: "Weather?",
      tools: [weatherTool, other],
      tool_choice: { type: "function", name: "get_time" },
    });
    expect(functionCall(named).name).toBe("get_time");
    const allowed = await v1.responses.create({
      model: "gpt-4o-mini",
      input: "Weather?",
      tools: [weatherTool, other],
      tool_choice: { type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "get_time" }] },
    });
    expect(functionCall(allowed).name).toBe("get_time");
    const unknown = await rawCreate({
      model: "gpt-4o-mini",
      input: "x",
      tools: [weatherTool],
      tool_choice: { type: "function", name: "nope" },
    });
    expect(unknown.status).toBe(400);
  });

  it("streamed: output_item.added, argument deltas, arguments.done, output_item.done; the SDK assembles the call", async () => {
    const events = await readTypedSse(
      await rawCreate({ model: "gpt-4o-mini", input: "Weather in Rome?", tools: [weatherTool], stream: true }),
    );
    const types = events.map((e) => e.type);
    const deltas = events.filter((e) => e.type === "response.function_call_arguments.delta");
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      ...deltas.map(() => "response.function_call_arguments.delta"),
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const done = events.find((e) => e.type === "response.function_call_arguments.done")!;
    expect(deltas.map((e) => e.delta).join("")).toBe(done.arguments);
    expect(done.name).toBe("get_weather");
    expect(events[2]!.item).toMatchObject({ type: "function_call", status: "in_progress", arguments: "", name: "get_weather" });

    const final = await v1.responses.stream({ model: "gpt-4o-mini", input: "Weather in Rome?", tools: [weatherTool] }).finalResponse();
    expect(functionCall(final).arguments).toBe(done.arguments);
  });
});

describe("stored responses", () => {
  it("GET answers the stored response; input_items lists the input newest first, pages, and in order asc", async () => {
    const created = await rawCreate({
      model: "gpt-4o-mini",
      input: [
        { role: "developer", content: "Be kind." },
        { role: "user", content: [{ type: "input_text", text: "First" }] },
        { role: "assistant", content: "Earlier answer" },
        { role: "user", content: "Second" },
      ],
    });
    const body = (await created.json()) as { id: string };
    const got = await rawGet(body.id);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(body);
    expect((await v1.responses.retrieve(body.id)).id).toBe(body.id);

    const page = await v1.responses.inputItems.list(body.id);
    const roles = page.data.map((item) => (item as { role: string }).role);
    expect(roles).toEqual(["user", "assistant", "user", "developer"]);
    expect(page.data[0]).toMatchObject({
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Second" }],
      status: "completed",
    });
    expect(page.data[1]).toMatchObject({ role: "assistant", content: [{ type: "output_text", text: "Earlier answer" }] });
    expect(page.data.every((item) => /^msg_/.test(item.id!))).toBe(true);
    const asc = await v1.responses.inputItems.list(body.id, { order: "asc" });
    expect(asc.data.map((item) => item.id)).toEqual(page.data.map((item) => item.id).reverse());
    // One item a page: the SDK follows `after` until has_more is false.
    const paged: string[] = [];
    for await (const item of v1.responses.inputItems.list(body.id, { limit: 1 })) paged.push(item.id!);
    expect(paged).toEqual(page.data.map((item) => item.id));
    const raw = (await (await rawGet(`${body.id}/input_items?limit=2`)).json()) as Record<string, unknown>;
    expect(raw).toMatchObject({ object: "list", first_id: page.data[0]!.id, last_id: page.data[1]!.id, has_more: true });
  });

  it("input_items of a continued response: the earlier inputs and outputs, then its own", async () => {
    const first = await v1.responses.create({ model: "gpt-4o-mini", input: "One" });
    const second = await v1.responses.create({ model: "gpt-4o-mini", input: "Two", previous_response_id: first.id });
    const items = (await v1.responses.inputItems.list(second.id, { order: "asc" })).data;
    expect(items.map((item) => item.id)).toEqual([
      (await v1.responses.inputItems.list(first.id)).data[0]!.id,
      first.output[0]!.id,
      items[2]!.id,
    ]);
    expect(items[2]).toMatchObject({ role: "user", content: [{ text: "Two" }] });
    // Instructions are not carried over, but the conversation is counted.
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens + first.usage!.output_tokens);
  });

  it("DELETE answers {id, object, deleted} and the response is gone; store: false is never kept", async () => {
    const r = await v1.responses.create({ model: "gpt-4o-mini", input: "Hi" });
    const deleted = await rawGet(r.id, "DELETE");
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: r.id, object: "response", deleted: true });
    const again = await v1.responses.retrieve(r.id).then(unexpected, (e: unknown) => e);
    expect(again).toBeInstanceOf(NotFoundError);
    expect((again as NotFoundError).message).toContain(`Response with id '${r.id}' not found.`);
    expect((await rawGet(r.id, "DELETE")).status).toBe(404);

    const unstored = await v1.responses.create({ model: "gpt-4o-mini", input: "Hi", store: false });
    expect((unstored as unknown as { store: boolean }).store).toBe(false);
    expect((await rawGet(unstored.id)).status).toBe(404);
    const continued = await v1.responses
      .create({ model: "gpt-4o-mini", input: "Hi", previous_response_id: unstored.id })
      .then(unexpected, (e: unknown) => e);
    expect(continued).toBeInstanceOf(NotFoundError);
    expect((continued as NotFoundError).error).toMatchObject({
      type: "invalid_request_error",
      param: "previous_response_id",
      code: "previous_response_not_found",
    });
  });

  it("unknown ids: 404 in the service's error shape for GET, input_items and DELETE", async () => {
    for (const [path, method] of [
      ["resp_unknown", "GET"],
      ["resp_unknown/input_items", "GET"],
      ["resp_unknown", "DELETE"],
    ] as const) {
      const res = await rawGet(path, method);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toEqual({
        error: { message: "Response with id 'resp_unknown' not found.", type: "invalid_request_error", param: null, code: null },
      });
    }
    expect((await rawGet("resp_unknown", "PUT")).status).toBe(405);
  });

  it("a stream cut short is not stored; a reset forgets every response", async () => {
    const res = await rawCreate({ model: "gpt-4o-mini", input: "Hello", stream: true }, { [FAULT_HEADER]: "drop;after=2" });
    const text = await readUntilCut(res);
    expect(text).toContain("response.output_text.delta");
    expect(text).not.toContain("response.completed");
    const id = text.match(/"id":"(resp_[0-9a-f]+)"/)?.[1];
    expect(id).toBeDefined();
    expect((await rawGet(id!)).status).toBe(404);

    const kept = await v1.responses.create({ model: "gpt-4o-mini", input: "Hello" });
    await sim.control.reset({ keepDeployments: true });
    expect((await rawGet(kept.id)).status).toBe(404);
  });
});

describe("routes, deployments, journal", () => {
  it("the dated style: /openai/responses?api-version=, not under /deployments/, with AzureOpenAI", async () => {
    const r = await dated.responses.create({ model: "gpt-4o-mini", input: "Hi from the dated API" });
    expect(r.status).toBe("completed");
    expect((await dated.responses.retrieve(r.id)).output_text).toBe(r.output_text);
    expect((await dated.responses.inputItems.list(r.id)).data).toHaveLength(1);
    const final = await dated.responses.stream({ model: "gpt-4o-mini", input: "Hi from the dated API" }).finalResponse();
    expect(final.output_text).toBe(r.output_text);
    await dated.responses.delete(r.id);
    expect(await dated.responses.retrieve(r.id).then(unexpected, (e: unknown) => e)).toBeInstanceOf(NotFoundError);

    const journal = await sim.control.journal({ operation: "responses" });
    expect(journal.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      "POST /openai/responses",
      `GET /openai/responses/${r.id}`,
      `GET /openai/responses/${r.id}/input_items`,
      "POST /openai/responses",
      `DELETE /openai/responses/${r.id}`,
      `GET /openai/responses/${r.id}`,
    ]);
    expect(journal.slice(0, 5).every((entry) => entry.apiStyle === "dated" && entry.apiVersion === RESPONSES_API_VERSION)).toBe(true);
    expect(journal.slice(0, 5).every((entry) => entry.deployment === "gpt-4o-mini")).toBe(true);

    const missingVersion = await fetch(`${sim.url}/openai/responses`, {
      method: "POST",
      headers: { "api-key": sim.apiKey, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", input: "x" }),
    });
    expect(missingVersion.status).toBe(400);
    expect(((await missingVersion.json()) as { error: { code: string } }).error.code).toBe("MissingApiVersionParameter");
    const underDeployments = await fetch(`${sim.url}/openai/deployments/gpt-4o-mini/responses?api-version=${RESPONSES_API_VERSION}`, {
      method: "POST",
      headers: { "api-key": sim.apiKey, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", input: "x" }),
    });
    expect(underDeployments.status).toBe(404);
  });

  it("an unknown deployment: 404 DeploymentNotFound on both styles; a model without chat: 400 OperationNotSupported", async () => {
    for (const client of [v1, dated]) {
      const e = await client.responses.create({ model: "nope", input: "x" }).then(unexpected, (e: unknown) => e);
      expect(e).toBeInstanceOf(NotFoundError);
      expect((e as NotFoundError).code).toBe("DeploymentNotFound");
    }
    const e = await v1.responses.create({ model: "text-embedding-3-small", input: "x" }).then(unexpected, (e: unknown) => e);
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).code).toBe("OperationNotSupported");
    const wrongKey = await v1Client(sim, { apiKey: "wrong", maxRetries: 0 })
      .responses.create({ model: "gpt-4o-mini", input: "x" })
      .then(unexpected, (e: unknown) => e);
    expect((wrongKey as { status: number }).status).toBe(401);
  });

  it("the journal and counters record each request: usage, streams, and retrievals on the deployment that made the response", async () => {
    const r = await v1.responses.create({ model: "gpt-4o-mini", input: "Hello" });
    await v1.responses.stream({ model: "gpt-4o-mini", input: "Hello" }).finalResponse();
    await v1.responses.retrieve(r.id);
    const journal = await sim.control.journal({ deployment: "gpt-4o-mini" });
    expect(journal.map((entry) => [entry.operation, entry.method, entry.stream, entry.status])).toEqual([
      ["responses", "POST", false, 200],
      ["responses", "POST", true, 200],
      ["responses", "GET", false, 200],
    ]);
    expect(journal[0]!.usage).toEqual({
      prompt_tokens: r.usage!.input_tokens,
      completion_tokens: r.usage!.output_tokens,
      total_tokens: r.usage!.total_tokens,
    });
    const counters = (await sim.control.counters()).deployments["gpt-4o-mini"]!;
    expect(counters).toMatchObject({ requests: 3, streams: 1, promptTokens: 2 * r.usage!.input_tokens });
  });
});

describe("quotas and faults", () => {
  it("TPM charges input tokens plus max_output_tokens at admission; over it, Azure's 429 with retry headers", async () => {
    const first = await v1.responses.create({ model: "small", input: "Hi", max_output_tokens: 200 }).withResponse();
    const charged = first.data.usage!.input_tokens + 200;
    expect(Number(first.response.headers.get("x-ratelimit-remaining-tokens"))).toBe(300 - charged);
    expect((await sim.control.journal({ deployment: "small" }))[0]!.chargedTokens).toBe(charged);
    const e = await v1.responses.create({ model: "small", input: "Hi", max_output_tokens: 200 }).then(unexpected, (e: unknown) => e);
    expect(e).toBeInstanceOf(RateLimitError);
    const limited = e as RateLimitError;
    expect(limited.message).toMatch(
      /Requests to the Responses_Create Operation under Azure OpenAI API version v1 have exceeded token rate limit/,
    );
    expect(Number(limited.headers?.get("retry-after-ms"))).toBeGreaterThan(0);
    expect(Number(limited.headers?.get("retry-after-ms"))).toBeLessThanOrEqual(QUOTA_WINDOW_MS);
    expect((await sim.control.counters()).deployments.small!.throttled).toBe(1);
  });

  it("an injected 429: the client retries after retry-after-ms; a rule limited to responses spares chat", async () => {
    const header = await v1.responses
      .create({ model: "gpt-4o-mini", input: "Hi" }, { headers: { [FAULT_HEADER]: "429;ms=10" } })
      .then(unexpected, (e: unknown) => e);
    expect(header).toBeInstanceOf(RateLimitError);
    expect((header as RateLimitError).headers?.get("retry-after-ms")).toBe("10");

    await sim.control.setFaults("gpt-4o-mini", [{ kind: 429, times: 1, ms: 10, operations: ["responses"] }]);
    await v1.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
    const retried = await v1Client(sim, { maxRetries: 1 }).responses.create({ model: "gpt-4o-mini", input: "Hi" });
    expect(retried.status).toBe("completed");
    const statuses = (await sim.control.journal({ operation: "responses" })).map((entry) => entry.status);
    expect(statuses).toEqual([429, 429, 200]);
  });

  it("content filter: the prompt's 400, or an answer cut short with status incomplete, reason content_filter", async () => {
    const refused = await v1.responses
      .create({ model: "gpt-4o-mini", input: "Hi" }, { headers: { [FAULT_HEADER]: "content-filter" } })
      .then(unexpected, (e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).code).toBe("content_filter");

    const cut = await v1.responses.create(
      { model: "gpt-4o-mini", input: "Hi" },
      { headers: { [FAULT_HEADER]: "finish-content-filter;after=2" } },
    );
    expect(cut.status).toBe("incomplete");
    expect(cut.incomplete_details).toEqual({ reason: "content_filter" });
    expect(cut.usage!.output_tokens).toBe(2);

    const events = await readTypedSse(
      await rawCreate({ model: "gpt-4o-mini", input: "Hi", stream: true }, { [FAULT_HEADER]: "finish-content-filter;after=3" }),
    );
    expect(events.filter((e) => e.type === "response.output_text.delta")).toHaveLength(3);
    expect((events.at(-1) as TypedEvent).type).toBe("response.incomplete");
  });

  it("drop mid-stream: the SDK's stream fails after the first deltas, and the journal says so", async () => {
    const deltas: string[] = [];
    const stream = v1.responses.stream({ model: "gpt-4o-mini", input: "Hello" }, { headers: { [FAULT_HEADER]: "drop;after=3" } });
    stream.on("response.output_text.delta", (event) => deltas.push(event.delta));
    const e = await stream.finalResponse().then(unexpected, (e: unknown) => e);
    expect(e).toBeInstanceOf(Error);
    expect(deltas).toHaveLength(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [entry] = await sim.control.journal({ operation: "responses" });
    expect(entry).toMatchObject({ status: 200, stream: true, faults: ["drop"] });
    expect(entry!.usage!.completion_tokens).toBe(3);
  });

  it("a delay fault adds to the time of a whole answer", async () => {
    const started = performance.now();
    await v1.responses.create({ model: "gpt-4o-mini", input: "Hi" }, { headers: { [FAULT_HEADER]: "delay;ms=250" } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
  });
});

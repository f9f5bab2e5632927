/**
 * The Responses API through the app (POST/GET/DELETE /api/v1/responses...), in the local host with
 * the simulator, as its users call it: the official `openai` client (streamed and not, a function
 * tool round trip with previous_response_id, structured output, abort, failures) and the Vercel
 * AI SDK's default provider (`createOpenAI` + `openai(model)`, which calls the Responses API).
 */
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import OpenAI, { APIError, NotFoundError, RateLimitError } from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { startStack, type Stack } from "../support/stack.js";

const KEY = "test-function-key-0123456789";
const CHAT = "gpt-4o-mini";

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({ host: { enforceKeys: true, keys: { default: KEY } } });
  client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", defaultHeaders: { "x-functions-key": KEY }, maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(async () => {
  await stack.simulator.control.reset();
});

const WEATHER_TOOL = {
  type: "function" as const,
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  strict: true,
};

async function upstreamResponsesCalls(): Promise<Array<{ path: string; status: number }>> {
  const journal = await stack.simulator.control.journal({ deployment: CHAT });
  return journal.filter((entry) => entry.path.includes("/responses")).map((entry) => ({ path: entry.path, status: entry.status }));
}

describe("POST /api/v1/responses with the official client", () => {
  it("answers a string input with text and usage, in one upstream call", async () => {
    const response = await client.responses.create({ model: CHAT, input: "Say hello in three words" });
    expect(response.object).toBe("response");
    expect(response.status).toBe("completed");
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    expect(await upstreamResponsesCalls()).toHaveLength(1);
  });

  it("streams typed events in order, numbered, that add up to the final response", async () => {
    const stream = await client.responses.create({ model: CHAT, input: "Tell me a short story", stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toContain("response.output_text.delta");
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => events[0]!.sequence_number + i));
    const text = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : [])).join("");
    const completed = events.at(-1) as Extract<ResponseStreamEvent, { type: "response.completed" }>;
    const finalText = completed.response.output.flatMap((item) =>
      item.type === "message" ? item.content.flatMap((part) => (part.type === "output_text" ? [part.text] : [])) : [],
    );
    expect(text).toBe(finalText.join(""));
  });

  it("sends the stream as OpenAI frames it: event + data lines, no [DONE]", async () => {
    const raw = await fetch(`${stack.host.url}/api/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": KEY },
      body: JSON.stringify({ model: CHAT, input: "hi", stream: true }),
    });
    expect(raw.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await raw.text();
    expect(text).toMatch(/^event: response\.created\ndata: \{"type":"response\.created"/m);
    expect(text).not.toContain("[DONE]");
  });

  it("the client's stream helper assembles the final response", async () => {
    const final = await client.responses.stream({ model: CHAT, input: "Describe the sea" }).finalResponse();
    expect(final.status).toBe("completed");
    expect(final.output_text.length).toBeGreaterThan(0);
  });

  it("round-trips a function tool with previous_response_id, and the stored response can be read, listed and deleted", async () => {
    const first = await client.responses.create({
      model: CHAT,
      input: "What is the weather in Paris?",
      tools: [WEATHER_TOOL],
      tool_choice: "required",
    });
    const call = first.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "get_weather" });
    expect(JSON.parse((call as { arguments: string }).arguments)).toMatchObject({ city: expect.any(String) });

    const second = await client.responses.create({
      model: CHAT,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: (call as { call_id: string }).call_id, output: '{"celsius": 21}' }],
      tools: [WEATHER_TOOL],
    });
    expect(second.status).toBe("completed");
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text.length).toBeGreaterThan(0);

    expect((await client.responses.retrieve(second.id)).id).toBe(second.id);
    const items = await client.responses.inputItems.list(second.id);
    expect(items.data.some((item) => item.type === "function_call_output")).toBe(true);
    await client.responses.delete(second.id);
    await expect(client.responses.retrieve(second.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("returns structured output that parses and fits the schema", async () => {
    const response = await client.responses.create({
      model: CHAT,
      input: "A city and its population",
      text: {
        format: {
          type: "json_schema",
          name: "city",
          strict: true,
          schema: {
            type: "object",
            properties: { name: { type: "string" }, population: { type: "integer" } },
            required: ["name", "population"],
            additionalProperties: false,
          },
        },
      },
    });
    const parsed = z.object({ name: z.string(), population: z.number().int() }).strict().parse(JSON.parse(response.output_text));
    expect(parsed.name.length).toBeGreaterThan(0);
  });

  it("says which field is wrong before calling Azure", async () => {
    const error = await client.responses
      .create({ model: CHAT, input: [{ role: "wizard", content: "hi" }] } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(400);
    expect((error as APIError).error).toMatchObject({ param: "input[0].role", type: "invalid_request_error" });
    const unknownModel = await client.responses.create({ model: "gpt-9", input: "hi" }).catch((e: unknown) => e);
    expect((unknownModel as APIError).error).toMatchObject({ code: "model_not_found", param: "model" });
    expect(await upstreamResponsesCalls()).toHaveLength(0);
  });

  it("answers Azure's throttling with 429 and Retry-After, and ends a broken stream with a Responses error event", async () => {
    await stack.simulator.control.setFaults(CHAT, [{ kind: 429, ms: 1500, times: 1 }]);
    const throttled = await client.responses.create({ model: CHAT, input: "hi" }).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(RateLimitError);
    expect((throttled as RateLimitError).headers?.get("retry-after")).toBe("2");

    await stack.simulator.control.setFaults(CHAT, [{ kind: "drop", afterTokens: 3 }]);
    const stream = await client.responses.create({ model: CHAT, input: "A long story, please", stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: "error", code: expect.any(String), message: expect.any(String) });
    expect(last.sequence_number).toBe(events.at(-2)!.sequence_number + 1);
    expect(events.some((e) => e.type === "response.completed")).toBe(false);
  });

  it("stops the upstream stream when the caller aborts", async () => {
    await stack.simulator.control.setLatency(CHAT, { timeToFirstTokenMs: 50, tokensPerSecond: 20 });
    const controller = new AbortController();
    const stream = await client.responses.create(
      { model: CHAT, input: "A very long story", stream: true, max_output_tokens: 400 },
      { signal: controller.signal },
    );
    let seen = 0;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta" && ++seen === 2) controller.abort();
    }
    // The app cancelled its upstream request: the simulator saw its client go before the end.
    let entry;
    for (let i = 0; i < 50 && !entry?.aborted; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      entry = (await stack.simulator.control.journal({ deployment: CHAT })).find((e) => e.path.includes("/responses"));
    }
    expect(entry).toMatchObject({ stream: true, aborted: true });
  });
});

describe("the Vercel AI SDK's default provider (Responses API)", () => {
  const provider = () => createOpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", headers: { "x-functions-key": KEY } });

  it("generateText", async () => {
    const result = await generateText({ model: provider()(CHAT), prompt: "Say hello" });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect((await upstreamResponsesCalls()).length).toBe(1);
  });

  it("streamText with a tool over two steps", async () => {
    let called = 0;
    const result = streamText({
      model: provider()(CHAT),
      prompt: "What is the weather in Oslo?",
      tools: {
        get_weather: tool({
          description: "The weather in a city",
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            called++;
            return { city, celsius: 4 };
          },
        }),
      },
      toolChoice: "required",
      prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { toolChoice: "none" } : {}),
      stopWhen: stepCountIs(2),
    });
    let text = "";
    for await (const part of result.textStream) text += part;
    expect(called).toBe(1);
    expect((await result.steps).length).toBe(2);
    expect(text.length).toBeGreaterThan(0);
  });

  it("generateObject", async () => {
    const { object } = await generateObject({
      model: provider()(CHAT),
      schema: z.object({ name: z.string(), population: z.number().int() }),
      prompt: "A city and its population",
    });
    expect(typeof object.name).toBe("string");
    expect(Number.isInteger(object.population)).toBe(true);
  });
});

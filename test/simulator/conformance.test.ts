import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, readSse, readTypedSse, startFast, v1Client, wav } from "./helpers.js";
import { openApiValidator, type Validate } from "./openapi.js";

// Every response type the simulator answers, validated against OpenAI's OpenAPI description.
let sim: Simulator;
let validate: Validate;

beforeAll(async () => {
  validate = openApiValidator();
  sim = await startFast({
    deployments: [
      { name: "gpt-4o-mini", model: "gpt-4o-mini", modelVersion: "2024-07-18", capability: "chat" },
      { name: "instruct", model: "gpt-35-turbo-instruct", modelVersion: "0914", capability: "completions" },
      { name: "text-embedding-3-small", model: "text-embedding-3-small", capability: "embeddings", dimensions: 1536 },
      { name: "whisper", model: "whisper", capability: "transcription" },
      { name: "dall-e-3", model: "dall-e-3", capability: "image" },
      { name: "gpt-image-1", model: "gpt-image-1", capability: "image" },
      { name: "gpt-4o-mini-tts", model: "gpt-4o-mini-tts", capability: "speech" },
    ],
  });
});
afterAll(() => sim.stop());

function expectValid(schema: string, data: unknown): void {
  expect(validate(schema, data), `${schema}: ${JSON.stringify(data).slice(0, 300)}`).toEqual([]);
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${sim.url}/openai/deployments/${path}?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("responses conform to the OpenAI OpenAPI spec", () => {
  it("the validator is not vacuous", () => {
    expect(validate("CreateChatCompletionResponse", { id: "x", choices: [] })).not.toEqual([]);
    expect(validate("CreateChatCompletionStreamResponse", { id: "", object: "", created: 0, model: "", choices: [] })).not.toEqual([]);
  });

  it("chat completions: text, n, logprobs, tools, json_schema", async () => {
    const bodies = [
      { messages: [{ role: "user", content: "Hi" }] },
      { messages: [{ role: "user", content: "Hi" }], n: 3, logprobs: true, top_logprobs: 2 },
      {
        messages: [{ role: "user", content: "Weather?" }],
        tools: [
          {
            type: "function",
            function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
          },
        ],
        tool_choice: "required",
      },
      {
        messages: [{ role: "user", content: "Give me a person" }],
        response_format: {
          type: "json_schema",
          json_schema: { name: "person", schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
        },
      },
    ];
    for (const body of bodies) {
      const res = await post("gpt-4o-mini/chat/completions", body);
      expect(res.status).toBe(200);
      expectValid("CreateChatCompletionResponse", await res.json());
    }
  });

  it("chat stream chunks (the OpenAI-shaped ones; Azure's filter-only chunk is checked on its own)", async () => {
    const res = await post("gpt-4o-mini/chat/completions", {
      messages: [{ role: "user", content: "Hi" }],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { a: { type: "integer" } } } } }],
      tool_choice: "auto",
    });
    const events = await readSse(res);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { object: string });
    const azureOnly = chunks.filter((c) => c.object === "");
    expect(azureOnly).toHaveLength(1);
    expect(azureOnly[0]).toMatchObject({ choices: [], prompt_filter_results: [{ prompt_index: 0 }] });
    for (const c of chunks.filter((c) => c.object !== "")) expectValid("CreateChatCompletionStreamResponse", c);
  });

  it("legacy completions", async () => {
    const res = await post("instruct/completions", { prompt: ["Once", "Twice"], max_tokens: 5 });
    expectValid("CreateCompletionResponse", await res.json());
  });

  it("embeddings", async () => {
    const res = await post("text-embedding-3-small/embeddings", { input: ["a", "b"], encoding_format: "float" });
    expectValid("CreateEmbeddingResponse", await res.json());
  });

  it("transcriptions and translations, json and verbose_json", async () => {
    const client = azureClient(sim);
    const file = () => toFile(wav(7.5), "a.wav");
    expectValid("CreateTranscriptionResponseJson", await client.audio.transcriptions.create({ model: "whisper", file: await file() }));
    expectValid(
      "CreateTranscriptionResponseVerboseJson",
      await client.audio.transcriptions.create({
        model: "whisper",
        file: await file(),
        response_format: "verbose_json",
        timestamp_granularities: ["word", "segment"],
      }),
    );
    expectValid("CreateTranslationResponseJson", await client.audio.translations.create({ model: "whisper", file: await file() }));
    expectValid(
      "CreateTranslationResponseVerboseJson",
      await client.audio.translations.create({ model: "whisper", file: await file(), response_format: "verbose_json" }),
    );
  });

  it("images, as b64_json and as url", async () => {
    for (const response_format of ["b64_json", "url"]) {
      const res = await post("dall-e-3/images/generations", { prompt: "a lighthouse", response_format });
      expectValid("ImagesResponse", await res.json());
    }
  });

  it("gpt-image-1 generations and edits (b64_json, usage, every output format)", async () => {
    for (const body of [
      { prompt: "a lighthouse" },
      { prompt: "a lighthouse", output_format: "webp", quality: "low", n: 2, size: "1536x1024" },
    ]) {
      const res = await post("gpt-image-1/images/generations", body);
      expect(res.status).toBe(200);
      expectValid("ImagesResponse", await res.json());
    }
    const form = new FormData();
    const png = Buffer.from(
      (
        (await (await post("gpt-image-1/images/generations", { prompt: "a cat", quality: "low" })).json()) as {
          data: { b64_json: string }[];
        }
      ).data[0]!.b64_json,
      "base64",
    );
    form.append("image", new Blob([png], { type: "image/png" }), "cat.png");
    form.append("prompt", "the cat in a hat");
    form.append("output_format", "jpeg");
    const edit = await fetch(`${sim.url}/openai/deployments/gpt-image-1/images/edits?api-version=${API_VERSION}`, {
      method: "POST",
      headers: { "api-key": sim.apiKey },
      body: form,
    });
    expect(edit.status).toBe(200);
    expectValid("ImagesResponse", await edit.json());
  });

  it("speech SSE events (gpt-4o-mini-tts, stream_format sse)", async () => {
    const res = await post("gpt-4o-mini-tts/audio/speech", { input: "Hello there.", voice: "coral", stream_format: "sse" });
    const events = (await res.text()).split("\n\n").filter(Boolean);
    expect(events.length).toBeGreaterThan(2);
    for (const event of events) expectValid("CreateSpeechResponseStreamEvent", JSON.parse(event.slice("data: ".length)));
  });

  it("models list", async () => {
    const res = await fetch(`${sim.url}/openai/v1/models`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
    expectValid("ListModelsResponse", await res.json());
  });

  it("model-side 400s are OpenAI errors", async () => {
    const res = await post("gpt-4o-mini/chat/completions", { messages: [{ role: "wizard", content: "x" }] });
    expect(res.status).toBe(400);
    expectValid("ErrorResponse", await res.json());
  });

  describe("the Responses API", () => {
    const tool = {
      type: "function",
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
      strict: true,
    };
    /** Each event type the simulator streams, and its schema in the spec. */
    const EVENT_SCHEMAS: Record<string, string> = {
      "response.created": "ResponseCreatedEvent",
      "response.in_progress": "ResponseInProgressEvent",
      "response.output_item.added": "ResponseOutputItemAddedEvent",
      "response.content_part.added": "ResponseContentPartAddedEvent",
      "response.output_text.delta": "ResponseTextDeltaEvent",
      "response.output_text.done": "ResponseTextDoneEvent",
      "response.content_part.done": "ResponseContentPartDoneEvent",
      "response.output_item.done": "ResponseOutputItemDoneEvent",
      "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
      "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
      "response.completed": "ResponseCompletedEvent",
      "response.incomplete": "ResponseIncompleteEvent",
    };
    const requests: Record<string, unknown>[] = [
      { input: "Hi", instructions: "Be brief.", metadata: { run: "conformance" }, temperature: 0.5 },
      { input: "Weather in Paris?", tools: [tool], tool_choice: "required" },
      {
        input: "A person",
        text: {
          format: {
            type: "json_schema",
            name: "person",
            schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false },
            strict: true,
          },
        },
      },
      { input: "A long story", max_output_tokens: 16, include: ["message.output_text.logprobs"], top_logprobs: 2 },
    ];

    function create(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
      return fetch(`${sim.url}/openai/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json", ...headers },
        body: JSON.stringify({ model: "gpt-4o-mini", ...body }),
      });
    }
    function get(path: string): Promise<Response> {
      return fetch(`${sim.url}/openai/v1/responses/${path}`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
    }

    it("the validator is not vacuous for responses", () => {
      expect(validate("Response", { id: "resp_x", object: "response", output: [] })).not.toEqual([]);
      expect(validate("ResponseTextDeltaEvent", { type: "response.output_text.delta", delta: "x", sequence_number: 0 })).not.toEqual([]);
    });

    it("response objects: text, a function call, structured output, incomplete with logprobs, a continued conversation", async () => {
      const ids: string[] = [];
      for (const body of requests) {
        const res = await create(body);
        expect(res.status).toBe(200);
        const response = (await res.json()) as { id: string };
        expectValid("Response", response);
        ids.push(response.id);
        expectValid("Response", await (await get(response.id)).json());
      }
      const continued = (await (await create({ input: "And then?", previous_response_id: ids[0] })).json()) as { id: string };
      expectValid("Response", continued);
    });

    it("every streamed event, by its own schema and as a ResponseStreamEvent", async () => {
      for (const body of requests) {
        const events = await readTypedSse(await create({ ...body, stream: true }));
        expect(events.length).toBeGreaterThan(4);
        for (const event of events) {
          const schema = EVENT_SCHEMAS[event.type];
          expect(schema, `a schema for ${event.type}`).toBeDefined();
          expectValid(schema!, event);
          expectValid("ResponseStreamEvent", event);
        }
      }
      const filtered = await readTypedSse(
        await create({ input: "Hi", stream: true }, { "x-simulator-fault": "finish-content-filter;after=2" }),
      );
      for (const event of filtered) expectValid(EVENT_SCHEMAS[event.type]!, event);
    });

    it("input item lists: messages of every role, image parts, function calls and their outputs", async () => {
      const first = (await (await create({ input: "Weather in Paris?", tools: [tool] })).json()) as {
        id: string;
        output: { call_id: string }[];
      };
      const second = (await (
        await create({
          previous_response_id: first.id,
          tools: [tool],
          input: [
            { type: "function_call_output", call_id: first.output[0]!.call_id, output: "Sunny" },
            { role: "system", content: "Stay on topic." },
            { role: "assistant", content: [{ type: "output_text", text: "Noted." }] },
            {
              role: "user",
              content: [
                { type: "input_text", text: "And this?" },
                { type: "input_image", image_url: "https://example.com/a.png", detail: "high" },
              ],
            },
          ],
        })
      ).json()) as { id: string };
      for (const query of ["", "?order=asc", "?limit=2"]) {
        const list = (await (await get(`${second.id}/input_items${query}`)).json()) as { data: unknown[] };
        expect(list.data.length).toBeGreaterThan(1);
        expectValid("ResponseItemList", list);
      }
    });

    it("errors: an unknown response id, a bad parameter", async () => {
      const unknown = await get("resp_nope");
      expect(unknown.status).toBe(404);
      expectValid("ErrorResponse", await unknown.json());
      const bad = await create({ input: "x", max_output_tokens: 1 });
      expect(bad.status).toBe(400);
      expectValid("ErrorResponse", await bad.json());
    });
  });

  it("the v1 client parses what the v1 paths answer", async () => {
    const client = v1Client(sim);
    const r = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
    expectValid("CreateChatCompletionResponse", r);
  });
});

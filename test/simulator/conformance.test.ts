import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, readSse, startFast, v1Client, wav } from "./helpers.js";
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

  it("models list", async () => {
    const res = await fetch(`${sim.url}/openai/v1/models`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
    expectValid("ListModelsResponse", await res.json());
  });

  it("model-side 400s are OpenAI errors", async () => {
    const res = await post("gpt-4o-mini/chat/completions", { messages: [{ role: "wizard", content: "x" }] });
    expect(res.status).toBe(400);
    expectValid("ErrorResponse", await res.json());
  });

  it("the v1 client parses what the v1 paths answer", async () => {
    const client = v1Client(sim);
    const r = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
    expectValid("CreateChatCompletionResponse", r);
  });
});

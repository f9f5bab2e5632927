import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { azureSpecChecks, type AzureSpecChecks } from "./azure-spec.js";
import { readSse, startFast, wav } from "./helpers.js";

// The simulator's dated-route answers (status, content type, declared headers, body) checked
// against Azure's own REST specification for api-version 2024-10-21, operation by operation:
// every operation the specification has is one the simulator serves. Where Azure's real answers
// differ from the specification, the simulator follows the real answers: azure-spec.ts applies
// those differences, each with its evidence, and the tests below say where else they show.
let sim: Simulator;
let checks: AzureSpecChecks;
let apiVersion: string;

const OPERATIONS = {
  completions: "/deployments/{deployment-id}/completions",
  embeddings: "/deployments/{deployment-id}/embeddings",
  chat: "/deployments/{deployment-id}/chat/completions",
  transcriptions: "/deployments/{deployment-id}/audio/transcriptions",
  translations: "/deployments/{deployment-id}/audio/translations",
  images: "/deployments/{deployment-id}/images/generations",
} as const;
type Operation = keyof typeof OPERATIONS;

const DEPLOYMENT: Record<Operation, string> = {
  completions: "instruct",
  embeddings: "text-embedding-3-small",
  chat: "gpt-4o-mini",
  transcriptions: "whisper",
  translations: "whisper",
  images: "dall-e-3",
};

beforeAll(async () => {
  checks = azureSpecChecks();
  apiVersion = checks.spec.info.version;
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

function url(operation: Operation, deployment = DEPLOYMENT[operation], version = apiVersion): string {
  return `${sim.url}/openai${OPERATIONS[operation].replace("{deployment-id}", deployment)}?api-version=${version}`;
}

function post(operation: Operation, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url(operation), {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function upload(operation: "transcriptions" | "translations", fields: Record<string, string | string[]> = {}): Promise<Response> {
  const form = new FormData();
  form.set("file", new Blob([wav(4)], { type: "audio/wav" }), "speech.wav");
  for (const [name, value] of Object.entries(fields)) for (const one of [value].flat()) form.append(name, one);
  return fetch(url(operation), { method: "POST", headers: { "api-key": sim.apiKey }, body: form });
}

const mediaType = (res: Response) => (res.headers.get("content-type") ?? "").split(";")[0]!.trim();

/**
 * Checks one answer against the operation in the specification: the status (200, or an error
 * answered by the operation's `default` response), a content type the specification lists for
 * it, the headers it declares, and the body against its schema (`member`: one named schema of a
 * `oneOf`). Answers the body.
 */
async function expectAnswer(res: Response, operation: Operation, status: number, member?: string): Promise<unknown> {
  expect(res.status).toBe(status);
  const key = status === 200 ? "200" : "default";
  const declared = checks.spec.paths[OPERATIONS[operation]]!.post!.responses[key];
  expect(declared, `POST ${OPERATIONS[operation]} has a ${key} answer`).toBeDefined();
  const type = mediaType(res);
  expect(Object.keys(declared!.content ?? {})).toContain(type);
  for (const header of Object.keys(declared!.headers ?? {})) expect(res.headers.get(header), header).toBeTruthy();
  const body: unknown = type === "application/json" ? await res.json() : await res.text();
  expect(checks.validate(OPERATIONS[operation], key, type, body, member), JSON.stringify(body).slice(0, 400)).toEqual([]);
  return body;
}

/** Streamed chunks as objects; `[DONE]` is checked and dropped. */
async function chunks(res: Response): Promise<Record<string, unknown>[]> {
  expect(res.status).toBe(200);
  // Azure streams as server-sent events; the specification lists the chunk schema under application/json.
  expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  const events = await readSse(res);
  expect(events.at(-1)).toBe("[DONE]");
  return events.slice(0, -1).map((data) => JSON.parse(data) as Record<string, unknown>);
}

/**
 * Azure's prompt filter chunk, first in every stream: empty id, model and object, no choices.
 * Real Azure streams begin with it; the specification's chunk schema (object
 * `chat.completion.chunk` / `text_completion`) does not describe it.
 */
function expectPromptFilterChunk(chunk: Record<string, unknown> | undefined): void {
  expect(chunk).toMatchObject({ choices: [], created: 0, id: "", model: "", object: "" });
  expect(checks.validateSchema("promptFilterResults", chunk!.prompt_filter_results)).toEqual([]);
}

const weather = {
  name: "get_weather",
  description: "Weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
};
const time = { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] } };
const user = (content: string) => ({ role: "user", content });

describe("Azure's 2024-10-21 specification", () => {
  it("has exactly the operations checked here, each a POST the simulator serves", () => {
    expect(apiVersion).toBe("2024-10-21");
    expect(Object.keys(checks.spec.paths).sort()).toEqual(Object.values(OPERATIONS).sort());
    for (const path of Object.values(OPERATIONS)) expect(Object.keys(checks.spec.paths[path]!)).toEqual(["post"]);
  });

  it("the checks are not vacuous", () => {
    const chat = OPERATIONS.chat;
    expect(checks.validate(chat, "200", "application/json", { id: "x", object: "chat.completion", choices: [] })).not.toEqual([]);
    expect(checks.validate(chat, "default", "application/json", { error: { code: 404, message: "x" } })).not.toEqual([]);
    expect(checks.validate(OPERATIONS.images, "200", "application/json", { data: [] })).not.toEqual([]);
    expect(checks.validate(OPERATIONS.transcriptions, "200", "application/json", { task: "x" }, "audioVerboseResponse")).not.toEqual([]);
    expect(() => checks.validate(OPERATIONS.embeddings, "default", "application/json", {})).toThrow(/no default/);
  });
});

describe("chat completions", () => {
  it("answers: text, n with logprobs, tools, json_schema, stop", async () => {
    const bodies = [
      { messages: [user("Hi")] },
      { messages: [user("Hi")], n: 2, logprobs: true, top_logprobs: 2, max_tokens: 5 },
      { messages: [user("Weather?")], tools: [{ type: "function", function: weather }], tool_choice: "required" },
      {
        messages: [user("A person")],
        response_format: {
          type: "json_schema",
          json_schema: { name: "person", schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
        },
      },
      { messages: [{ role: "system", content: "Be brief." }, user("Hi")], stop: ["."], seed: 7, user: "user-1234" },
    ];
    for (const body of bodies) await expectAnswer(await post("chat", body), "chat", 200);
  });

  it("the deprecated functions: a call in message.function_call with finish_reason function_call", async () => {
    const auto = (await expectAnswer(
      await post("chat", { messages: [user("Weather in Oslo?")], functions: [weather, time] }),
      "chat",
      200,
    )) as {
      choices: { message: Record<string, unknown>; finish_reason: string }[];
    };
    const [choice] = auto.choices;
    expect(choice!.finish_reason).toBe("function_call");
    expect(choice!.message).toMatchObject({ role: "assistant", content: null, function_call: { name: "get_weather" } });
    expect(choice!.message).not.toHaveProperty("tool_calls");
    const args = JSON.parse((choice!.message.function_call as { arguments: string }).arguments) as Record<string, unknown>;
    expect(args).toHaveProperty("city", expect.any(String));

    const named = (await expectAnswer(
      await post("chat", { messages: [user("Time?")], functions: [weather, time], function_call: { name: "get_time" } }),
      "chat",
      200,
    )) as { choices: { message: { function_call: { name: string; arguments: string } } }[] };
    expect(named.choices[0]!.message.function_call.name).toBe("get_time");
    expect(JSON.parse(named.choices[0]!.message.function_call.arguments)).toHaveProperty("zone");

    // "none", and a function's result with "auto", answer in text.
    for (const body of [
      { messages: [user("Weather?")], functions: [weather], function_call: "none" },
      {
        messages: [
          user("Weather?"),
          { role: "assistant", content: null, function_call: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          { role: "function", name: "get_weather", content: '{"celsius": 4}' },
        ],
        functions: [weather],
      },
    ]) {
      const text = (await expectAnswer(await post("chat", body), "chat", 200)) as {
        choices: { message: Record<string, unknown>; finish_reason: string }[];
      };
      expect(text.choices[0]!.finish_reason).toBe("stop");
      expect(text.choices[0]!.message.content).toEqual(expect.any(String));
      expect(text.choices[0]!.message).not.toHaveProperty("function_call");
    }
  });

  it("the deprecated functions, streamed: function_call deltas and finish_reason function_call", async () => {
    const all = await chunks(await post("chat", { messages: [user("Weather?")], functions: [weather], stream: true }));
    expectPromptFilterChunk(all[0]);
    for (const chunk of all.slice(1)) expect(checks.validate(OPERATIONS.chat, "200", "application/json", chunk)).toEqual([]);
    const deltas = all.slice(1).map((c) => (c.choices as { delta: { function_call?: { name?: string; arguments?: string } } }[])[0]!.delta);
    expect(deltas.find((d) => d.function_call?.name)?.function_call?.name).toBe("get_weather");
    const args = deltas.map((d) => d.function_call?.arguments ?? "").join("");
    expect(JSON.parse(args)).toHaveProperty("city");
    const finish = all.map((c) => (c.choices as { finish_reason?: string }[])[0]?.finish_reason).filter(Boolean);
    expect(finish).toEqual(["function_call"]);
  });

  it("streamed chunks, with tool calls and usage", async () => {
    for (const body of [
      { messages: [user("Hi")], stream: true, stream_options: { include_usage: true }, logprobs: true },
      { messages: [user("Weather?")], stream: true, tools: [{ type: "function", function: weather }] },
    ]) {
      const all = await chunks(await post("chat", body));
      expectPromptFilterChunk(all[0]);
      for (const chunk of all.slice(1))
        expect(checks.validate(OPERATIONS.chat, "200", "application/json", chunk), JSON.stringify(chunk)).toEqual([]);
    }
  });

  it("errors: every refusal is the operation's error answer", async () => {
    // An unparseable body: null code and param, as Azure's model-side 400s carry them (azure-spec.ts).
    const unparseable = (await expectAnswer(await post("chat", "{not json"), "chat", 400)) as { error: Record<string, unknown> };
    expect(unparseable.error).toMatchObject({ type: "invalid_request_error", code: null, param: null });
    expect(unparseable.error.message).toMatch(/could not parse the JSON body/);
    const badRole = (await expectAnswer(await post("chat", { messages: [{ role: "wizard", content: "x" }] }), "chat", 400)) as {
      error: Record<string, unknown>;
    };
    expect(badRole.error).toMatchObject({ param: "messages[0].role", code: "invalid_value" });
    // Azure sends `innererror` with `content_filter_result` (the specification says inner_error / content_filter_results).
    const filtered = (await expectAnswer(
      await post("chat", { messages: [user("x")] }, { "x-simulator-fault": "content-filter" }),
      "chat",
      400,
    )) as {
      error: Record<string, unknown>;
    };
    expect(filtered.error).toMatchObject({ code: "content_filter", type: null, innererror: { code: "ResponsibleAIPolicyViolation" } });
    const throttled = (await expectAnswer(await post("chat", { messages: [user("x")] }, { "x-simulator-fault": "429" }), "chat", 429)) as {
      error: Record<string, unknown>;
    };
    expect(throttled.error.code).toBe("429");
    const missing = await fetch(url("chat", "nope"), {
      method: "POST",
      headers: { "api-key": sim.apiKey, "content-type": "application/json" },
      body: JSON.stringify({ messages: [user("x")] }),
    });
    expect(((await expectAnswer(missing, "chat", 404)) as { error: { code: string } }).error.code).toBe("DeploymentNotFound");
    const unserved = await fetch(url("chat", "gpt-4o-mini", "2099-01-01"), {
      method: "POST",
      headers: { "api-key": sim.apiKey, "content-type": "application/json" },
      body: JSON.stringify({ messages: [user("x")] }),
    });
    expect(await expectAnswer(unserved, "chat", 404)).toEqual({ error: { code: "404", message: "Resource not found" } });
    const unauthenticated = await fetch(url("chat"), { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(((await expectAnswer(unauthenticated, "chat", 401)) as { error: { code: string } }).error.code).toBe("401");
  });

  it("refuses On Your Data's data_sources clearly: the simulator does not simulate it", async () => {
    const res = await post("chat", {
      messages: [user("What is in my index?")],
      data_sources: [
        {
          type: "azure_search",
          parameters: {
            endpoint: "https://search.example",
            index_name: "docs",
            authentication: { type: "system_assigned_managed_identity" },
          },
        },
      ],
    });
    const body = (await expectAnswer(res, "chat", 400)) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ param: "data_sources", code: "unsupported_parameter" });
    expect(body.error.message).toMatch(/simulator does not simulate Azure OpenAI On Your Data/);
  });

  it("refuses malformed functions and function_call", async () => {
    for (const [body, param] of [
      [{ messages: [user("x")], function_call: "auto" }, "function_call"],
      [{ messages: [user("x")], functions: [weather], function_call: { name: "nope" } }, "function_call"],
      [{ messages: [user("x")], functions: [{ description: "no name" }] }, "functions[0].name"],
      [{ messages: [user("x")], functions: [] }, "functions"],
    ] as const) {
      const refused = (await expectAnswer(await post("chat", body), "chat", 400)) as { error: { param: string } };
      expect(refused.error.param).toBe(param);
    }
  });
});

describe("completions", () => {
  it("answers, whole and streamed", async () => {
    await expectAnswer(await post("completions", { prompt: ["Once", "Twice"], max_tokens: 5, n: 2 }), "completions", 200);
    await expectAnswer(await post("completions", { prompt: "Say this", echo: true, stop: "\n" }), "completions", 200);
    const all = await chunks(
      await post("completions", { prompt: "Once", max_tokens: 4, stream: true, stream_options: { include_usage: true } }),
    );
    expectPromptFilterChunk(all[0]);
    for (const chunk of all.slice(1))
      expect(checks.validate(OPERATIONS.completions, "200", "application/json", chunk), JSON.stringify(chunk)).toEqual([]);
  });

  it("errors", async () => {
    const body = (await expectAnswer(await post("completions", { max_tokens: 5 }), "completions", 400)) as { error: { param: string } };
    expect(body.error.param).toBe("prompt");
  });
});

describe("embeddings", () => {
  it("answers, as floats and (as the real service does) base64", async () => {
    await expectAnswer(await post("embeddings", { input: ["a", "b"], encoding_format: "float", dimensions: 256 }), "embeddings", 200);
    const base64 = (await expectAnswer(await post("embeddings", { input: "a", encoding_format: "base64" }), "embeddings", 200)) as {
      data: { embedding: string }[];
    };
    expect(Buffer.from(base64.data[0]!.embedding, "base64")).toHaveLength(1536 * 4);
  });
});

describe("audio", () => {
  for (const operation of ["transcriptions", "translations"] as const) {
    // The specification's oneOf of audioResponse and audioVerboseResponse matches both for any
    // body (the verbose one only adds optional fields), so each answer is checked against its own.
    it(`${operation}: json, verbose_json, and text, srt and vtt as text/plain`, async () => {
      await expectAnswer(await upload(operation), operation, 200, "audioResponse");
      const verbose = (await expectAnswer(
        await upload(operation, { response_format: "verbose_json", "timestamp_granularities[]": ["word", "segment"] }),
        operation,
        200,
        "audioVerboseResponse",
      )) as { task: string; segments: unknown[] };
      expect(verbose.task).toBe(operation === "transcriptions" ? "transcribe" : "translate");
      expect(verbose.segments.length).toBeGreaterThan(0);
      for (const format of ["text", "srt", "vtt"]) {
        const res = await upload(operation, { response_format: format });
        expect(mediaType(res), format).toBe("text/plain");
        expect(await expectAnswer(res, operation, 200)).toEqual(expect.any(String));
      }
    });
  }
});

describe("images", () => {
  it("answers, as b64_json and as url", async () => {
    for (const response_format of ["b64_json", "url"]) {
      const body = (await expectAnswer(
        await post("images", { prompt: "a lighthouse", response_format, size: "1024x1024", quality: "standard", style: "vivid" }),
        "images",
        200,
      )) as { data: Record<string, unknown>[] };
      expect(body.data).toHaveLength(1);
      expect(body.data[0]).toHaveProperty(response_format);
    }
  });

  it("errors are the operation's DALL-E error answer", async () => {
    const invalid = (await expectAnswer(await post("images", { prompt: "x", size: "13x13" }), "images", 400)) as {
      error: { param: string };
    };
    expect(invalid.error.param).toBe("size");
    const filtered = (await expectAnswer(
      await post("images", { prompt: "x" }, { "x-simulator-fault": "content-filter" }),
      "images",
      400,
    )) as {
      error: { code: string };
    };
    expect(filtered.error.code).toBe("content_filter");
  });
});

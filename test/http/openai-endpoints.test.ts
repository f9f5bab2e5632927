/**
 * POST /api/v1/embeddings, GET /api/v1/models and the endpoints' auth level, through the local host
 * running the built app against the simulator, with the official `openai` client.
 */
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startHost } from "../../tools/local-host/index.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { startStack, type Stack } from "../support/stack.js";

const KEY = "test-function-key-0123456789";
const EMBEDDINGS = "text-embedding-3-small";

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

function norm(vector: number[]): number {
  return Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
}

describe("POST /api/v1/embeddings", () => {
  it("embeds with the client's defaults (it asks for base64 and decodes it)", async () => {
    const result = await client.embeddings.create({ model: EMBEDDINGS, input: "The quick brown fox" });
    expect(result.object).toBe("list");
    expect(result.data).toHaveLength(1);
    expect(result.data[0]!.embedding).toHaveLength(1536);
    expect(norm(result.data[0]!.embedding)).toBeCloseTo(1, 3);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it("honours float encoding, dimensions and arrays of inputs, in order", async () => {
    const result = await client.embeddings.create({
      model: EMBEDDINGS,
      input: ["cats purr", "dogs bark", "cats purr"],
      dimensions: 256,
      encoding_format: "float",
    });
    expect(result.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(result.data.every((d) => d.embedding.length === 256)).toBe(true);
    expect(result.data[0]!.embedding).toEqual(result.data[2]!.embedding);
  });

  it.each([
    [{ input: [] }, "input", "empty_input"],
    [{ input: ["ok", "   "] }, "input[1]", "empty_input"],
    [{ input: "word ".repeat(9000) }, "input", "input_too_long"],
    [{ input: "x", dimensions: 0 }, "dimensions", "invalid_dimensions"],
    [{ input: "x", model: "gpt-4o-mini" }, "model", "model_not_found"],
    [{ input: 42 }, "input", "invalid_type"],
    [{}, "input", "missing_required_parameter"],
  ])("refuses %j with 400 naming %s", async (body, param, code) => {
    const response = await fetch(`${stack.host.url}/api/v1/embeddings`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json", "x-functions-key": KEY },
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({ type: "invalid_request_error", param, code });
    expect((await stack.simulator.control.counters()).total.requests).toBe(0);
  });

  it("passes Azure's throttling on as 429 with Retry-After, without waiting it out", async () => {
    await stack.simulator.control.setFaults(EMBEDDINGS, [{ kind: 429, times: 1, ms: 5000 }]);
    const started = performance.now();
    const error = await client.embeddings.create({ model: EMBEDDINGS, input: "hello" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toBe("5");
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("GET /api/v1/models", () => {
  it("lists the configured deployments in OpenAI's list shape", async () => {
    const ids = [];
    for await (const model of client.models.list()) {
      expect(model.object).toBe("model");
      expect(typeof model.created).toBe("number");
      ids.push(model.id);
    }
    expect(ids.sort()).toEqual(["gpt-4o-mini", "gpt-4o-mini-tts", "gpt-image-1", "text-embedding-3-small", "whisper"]);
  });

  it("retrieves one deployment, and answers an unknown one 404 model_not_found", async () => {
    const model = await client.models.retrieve("gpt-4o-mini");
    expect(model).toMatchObject({ id: "gpt-4o-mini", object: "model", owned_by: "azure-openai" });
    const error = await client.models.retrieve("gpt-9").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).message).toContain("'gpt-4o-mini'");
  });
});

describe("auth level", () => {
  it.each(["chat/completions", "embeddings", "models"])("%s needs the function key by default", async (path) => {
    const response = await fetch(`${stack.host.url}/api/v1/${path}`, {
      method: path === "models" ? "GET" : "POST",
      body: path === "models" ? undefined : "{}",
    });
    expect(response.status).toBe(401);
  });

  it("HTTP_AUTH_LEVEL=anonymous opens the endpoints", async () => {
    const host = await startHost({
      entry: path.join(REPO_ROOT, "dist/src/index.js"),
      cwd: REPO_ROOT,
      port: 0,
      env: { ...stack.settings, HTTP_AUTH_LEVEL: "anonymous" },
      isolateEnv: true,
      enforceKeys: true,
      keys: { default: KEY },
    });
    try {
      const anonymous = new OpenAI({ baseURL: `${host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
      const completion = await anonymous.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 3,
      });
      expect(completion.choices).toHaveLength(1);
      expect((await anonymous.models.list()).data.length).toBe(5);
    } finally {
      await host.stop();
    }
  });
});

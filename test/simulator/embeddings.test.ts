import { encode } from "gpt-tokenizer/encoding/cl100k_base";
import { BadRequestError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, startFast, v1Client } from "./helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({
    deployments: [
      { name: "text-embedding-3-small", model: "text-embedding-3-small", capability: "embeddings", dimensions: 1536 },
      { name: "large", model: "text-embedding-3-large", capability: "embeddings" },
      { name: "ada", model: "text-embedding-ada-002", capability: "embeddings" },
    ],
  });
});
afterAll(() => sim.stop());

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: number[]) => Math.sqrt(dot(a, a));

interface EmbeddingsBody {
  data: { embedding: number[] | string }[];
  usage: { prompt_tokens: number };
  error: { message: string };
}

async function raw(body: unknown): Promise<{ status: number; json: EmbeddingsBody }> {
  const res = await fetch(`${sim.url}/openai/deployments/text-embedding-3-small/embeddings?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as EmbeddingsBody };
}

describe("embeddings", () => {
  it("unit vectors of the deployment's dimensions; usage by cl100k", async () => {
    const r = await azureClient(sim).embeddings.create({
      model: "text-embedding-3-small",
      input: ["The cat sat on the mat.", "Quantum chromodynamics"],
    });
    expect(r.data).toHaveLength(2);
    expect(r.data.map((d) => d.index)).toEqual([0, 1]);
    for (const d of r.data) {
      expect(d.embedding).toHaveLength(1536);
      expect(norm(d.embedding)).toBeCloseTo(1, 5);
    }
    expect(r.model).toBe("text-embedding-3-small");
    expect(r.usage.prompt_tokens).toBe(encode("The cat sat on the mat.").length + encode("Quantum chromodynamics").length);
    const large = await v1Client(sim).embeddings.create({ model: "large", input: "x" });
    expect(large.data[0]!.embedding).toHaveLength(3072);
  });

  it("texts that share words are closer than texts that don't; the same text gives the same vector", async () => {
    const client = azureClient(sim);
    const texts = ["How do I reset my password?", "I forgot my password, how can I reset it?", "The weather in Lisbon is sunny today."];
    const [a, b, c] = (await client.embeddings.create({ model: "text-embedding-3-small", input: texts })).data.map((d) => d.embedding);
    expect(dot(a!, b!)).toBeGreaterThan(dot(a!, c!) + 0.2);
    expect(dot(a!, b!)).toBeLessThan(0.999);
    const again = (await client.embeddings.create({ model: "text-embedding-3-small", input: texts[0]! })).data[0]!.embedding;
    expect(again).toEqual(a);
  });

  it("dimensions shortens and renormalises; base64 carries the same float32 values", async () => {
    const full = await raw({ input: "shorter please", encoding_format: "float" });
    const short = await raw({ input: "shorter please", dimensions: 256, encoding_format: "float" });
    const v = short.json.data[0]!.embedding as number[];
    expect(v).toHaveLength(256);
    expect(norm(v)).toBeCloseTo(1, 5);
    // The same direction as the full vector's first 256 components.
    const prefix = (full.json.data[0]!.embedding as number[]).slice(0, 256);
    expect(dot(prefix, v) / norm(prefix)).toBeCloseTo(1, 5);
    const b64 = await raw({ input: "shorter please", dimensions: 256, encoding_format: "base64" });
    const floats = new Float32Array(Uint8Array.from(Buffer.from(b64.json.data[0]!.embedding as string, "base64")).buffer);
    expect(floats).toHaveLength(256);
    floats.forEach((x, i) => expect(x).toBeCloseTo(v[i]!, 6));
    // The openai client asks for base64 by default and decodes it.
    const viaClient = await v1Client(sim).embeddings.create({ model: "text-embedding-3-small", input: "shorter please", dimensions: 256 });
    viaClient.data[0]!.embedding.forEach((x, i) => expect(x).toBeCloseTo(v[i]!, 6));
  });

  it("token-array inputs are accepted and counted as tokens", async () => {
    const r = await raw({
      input: [
        [1, 2, 3],
        [4, 5],
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.usage.prompt_tokens).toBe(5);
  });

  it("limits: at most 2048 inputs, each at most 8191 tokens; no dimensions on ada-002", async () => {
    const tooMany = await raw({ input: Array.from({ length: 2049 }, () => "x") });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.message).toContain("2048");
    const atLimit = await raw({ input: Array.from({ length: 2048 }, () => "x"), encoding_format: "base64" });
    expect(atLimit.status).toBe(200);
    const tooLong = await raw({ input: ["ok", "word ".repeat(8200)] });
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.error.message).toContain("8191");
    const e = await v1Client(sim, { maxRetries: 0 })
      .embeddings.create({ model: "ada", input: "x", dimensions: 10 })
      .catch((e: unknown) => e);
    expect(e).toBeInstanceOf(BadRequestError);
    for (const bad of [
      {},
      { input: "" },
      { input: [] },
      { input: 5 },
      { input: "x", dimensions: 5000 },
      { input: "x", encoding_format: "int8" },
    ])
      expect((await raw(bad)).status, JSON.stringify(bad)).toBe(400);
  });
});

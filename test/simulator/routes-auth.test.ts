import { AuthenticationError, AzureOpenAI, BadRequestError, NotFoundError, OpenAI, PermissionDeniedError, toFile } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { API_VERSIONS } from "../../src/openai/api-versions.js";
import type { Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, startFast, v1Client, wav } from "./helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({
    deployments: [
      { name: "gpt-4o-mini", model: "gpt-4o-mini", modelVersion: "2024-07-18", capability: "chat" },
      { name: "instruct", model: "gpt-35-turbo-instruct", capability: "completions" },
      { name: "text-embedding-3-small", model: "text-embedding-3-small", capability: "embeddings", dimensions: 1536 },
      { name: "whisper", model: "whisper", capability: "transcription" },
      { name: "tts", model: "tts", capability: "speech" },
      { name: "dall-e-3", model: "dall-e-3", capability: "image" },
    ],
  });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

/** Calls every operation through one client and answers what each returned. */
async function everyOperation(client: OpenAI) {
  const chat = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello" }] });
  const completion = await client.completions.create({ model: "instruct", prompt: "Say this is a test", max_tokens: 7 });
  const embedding = await client.embeddings.create({ model: "text-embedding-3-small", input: "hello" });
  const transcription = await client.audio.transcriptions.create({ model: "whisper", file: await toFile(wav(2), "a.wav") });
  const translation = await client.audio.translations.create({ model: "whisper", file: await toFile(wav(2), "a.wav") });
  const speech = Buffer.from(
    await (await client.audio.speech.create({ model: "tts", voice: "alloy", input: "Hello there.", response_format: "wav" })).arrayBuffer(),
  );
  const image = await client.images.generate({ model: "dall-e-3", prompt: "a red fox", response_format: "b64_json" });
  return { chat, completion, embedding, transcription, translation, speech, image };
}

function expectAnswers(r: Awaited<ReturnType<typeof everyOperation>>) {
  expect(r.chat.choices[0]!.message.content).toMatch(/\w+/);
  expect(r.completion.choices[0]!.text.length).toBeGreaterThan(0);
  expect(r.completion.usage!.completion_tokens).toBeLessThanOrEqual(7);
  expect(r.embedding.data[0]!.embedding).toHaveLength(1536);
  expect(r.transcription.text).toMatch(/\w+/);
  expect(r.translation.text).toMatch(/\w+/);
  expect(r.speech.toString("latin1", 0, 4)).toBe("RIFF");
  expect(Buffer.from(r.image.data![0]!.b64_json!, "base64").subarray(1, 4).toString()).toBe("PNG");
}

describe("routes, both API styles", () => {
  it("dated paths with AzureOpenAI and an api-key", async () => {
    expectAnswers(await everyOperation(azureClient(sim)));
    const journal = await sim.control.journal();
    expect(journal).toHaveLength(7);
    for (const e of journal) {
      expect(e.apiStyle).toBe("dated");
      expect(e.apiVersion).toBe(API_VERSION);
      expect(e.auth).toBe("api-key");
      expect(e.path).toBe(`/openai/deployments/${e.deployment}/${e.operation}`);
      expect(e.status).toBe(200);
    }
  });

  it("v1 paths with the plain OpenAI client: model names the deployment, the key goes as a Bearer token", async () => {
    expectAnswers(await everyOperation(v1Client(sim)));
    const journal = await sim.control.journal();
    expect(journal.map((e) => e.path)).toContain("/openai/v1/chat/completions");
    for (const e of journal) {
      expect(e.apiStyle).toBe("v1");
      expect(e.auth).toBe("bearer-key");
    }
  });

  it("AzureOpenAI with a fixed deployment", async () => {
    const client = azureClient(sim, { deployment: "gpt-4o-mini" });
    const r = await client.chat.completions.create({ model: "", messages: [{ role: "user", content: "Hi" }] });
    expect(r.model).toBe("gpt-4o-mini-2024-07-18");
  });

  it("lists the deployments as models on both styles", async () => {
    const v1 = await v1Client(sim).models.list();
    expect(v1.data.map((m) => m.id).sort()).toEqual(["dall-e-3", "gpt-4o-mini", "instruct", "text-embedding-3-small", "tts", "whisper"]);
    const one = await v1Client(sim).models.retrieve("whisper");
    expect(one.id).toBe("whisper");
    const dated = await fetch(`${sim.url}/openai/models?api-version=${API_VERSION}`, { headers: { "api-key": sim.apiKey } });
    expect(((await dated.json()) as { data: unknown[] }).data).toHaveLength(6);
  });

  it("dated paths without api-version: 400 in Azure's shape", async () => {
    const res = await fetch(`${sim.url}/openai/deployments/gpt-4o-mini/chat/completions`, {
      method: "POST",
      headers: { "api-key": sim.apiKey, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "MissingApiVersionParameter", message: expect.stringContaining("api-version") } });
  });

  it.each(["2099-01-01", "2024-13-45", "2024-10-22", "2023-11-01-preview", "2024-10-21-PREVIEW", "0613", "latest"])(
    "dated paths with an api-version Azure does not serve (%s): 404 Resource not found, as Azure answers",
    async (version) => {
      for (const path of ["deployments/gpt-4o-mini/chat/completions", "deployments/text-embedding-3-small/embeddings", "models"]) {
        const res = await fetch(`${sim.url}/openai/${path}?api-version=${version}`, {
          method: path === "models" ? "GET" : "POST",
          headers: { "api-key": sim.apiKey, "content-type": "application/json" },
          ...(path === "models" ? {} : { body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], input: "x" }) }),
        });
        expect(res.status, path).toBe(404);
        expect(await res.text()).toBe('{"error":{"code":"404","message":"Resource not found"}}');
      }
      const [entry] = await sim.control.journal();
      expect(entry).toMatchObject({ status: 404, apiVersion: version });
    },
  );

  it("every api-version Azure serves is accepted, GA and preview, including the Responses API's 2025-04-01-preview", async () => {
    expect(API_VERSIONS).toContain("2025-04-01-preview");
    expect(API_VERSIONS).toContain("2024-10-21");
    for (const apiVersion of API_VERSIONS) {
      const client = new AzureOpenAI({ endpoint: sim.url, apiVersion, apiKey: sim.apiKey, maxRetries: 0 });
      const r = await client.embeddings.create({ model: "text-embedding-3-small", input: "x" });
      expect(r.data, apiVersion).toHaveLength(1);
    }
  });

  it("unknown deployment: 404 DeploymentNotFound, on both styles", async () => {
    const dated = azureClient(sim, { maxRetries: 0 });
    const e1 = await dated.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(NotFoundError);
    expect((e1 as NotFoundError).code).toBe("DeploymentNotFound");
    const e2 = await v1Client(sim, { maxRetries: 0 })
      .embeddings.create({ model: "nope", input: "x" })
      .catch((e: unknown) => e);
    expect((e2 as NotFoundError).code).toBe("DeploymentNotFound");
  });

  it("an operation the model cannot do: 400 OperationNotSupported", async () => {
    const e = await azureClient(sim, { maxRetries: 0 })
      .embeddings.create({ model: "gpt-4o-mini", input: "x" })
      .catch((e: unknown) => e);
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).code).toBe("OperationNotSupported");
    expect((e as BadRequestError).message).toContain("embeddings operation does not work with the specified model, gpt-4o-mini");
  });

  it("v1 without model: 400", async () => {
    const res = await fetch(`${sim.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(res.status).toBe(400);
  });

  it("a body that is not JSON: 400", async () => {
    const res = await fetch(`${sim.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.apiKey}` },
      body: "{nope",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("could not parse the JSON body");
  });
});

describe("auth", () => {
  it("a wrong or missing key: 401 in Azure's shape", async () => {
    const e = await azureClient(sim, { apiKey: "wrong", maxRetries: 0 })
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(e).toBeInstanceOf(AuthenticationError);
    expect((e as AuthenticationError).error).toEqual({ code: "401", message: expect.stringContaining("invalid subscription key") });
    const none = await fetch(`${sim.url}/openai/v1/models`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("401");
  });

  it("the key as a Bearer token only on v1 paths", async () => {
    const res = await fetch(`${sim.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(res.status).toBe(401);
  });

  it("Entra tokens: accepted when ours, for cognitiveservices, unexpired", async () => {
    const client = new AzureOpenAI({
      endpoint: sim.url,
      apiVersion: API_VERSION,
      azureADTokenProvider: async () => (await sim.control.issueToken()).access_token,
    });
    const r = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
    expect(r.choices).toHaveLength(1);
    expect((await sim.control.journal()).at(-1)!.auth).toBe("entra");
    // The v1 paths take Entra tokens too.
    const v1 = new OpenAI({ baseURL: `${sim.url}/openai/v1/`, apiKey: async () => (await sim.control.issueToken()).access_token });
    expect((await v1.embeddings.create({ model: "text-embedding-3-small", input: "x" })).data).toHaveLength(1);
  });

  it("Entra tokens for another audience, expired, or signed by someone else: 401", async () => {
    const call = (token: string) =>
      fetch(`${sim.url}/openai/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "text-embedding-3-small", input: "x" }),
      });
    const wrongAudience = await sim.control.issueToken({ resource: "https://storage.azure.com" });
    const r1 = await call(wrongAudience.access_token);
    expect(r1.status).toBe(401);
    expect(((await r1.json()) as { error: { message: string } }).error.message).toContain("audience is incorrect");
    const expired = await sim.control.issueToken({ lifetimeSeconds: -1 });
    const r2 = await call(expired.access_token);
    expect(r2.status).toBe(401);
    expect(((await r2.json()) as { error: { message: string } }).error.message).toContain("have expired");
    const other = await startFast();
    try {
      const foreign = await other.control.issueToken();
      expect((await call(foreign.access_token)).status).toBe(401);
    } finally {
      await other.stop();
    }
  });

  it("disableKeyAuth refuses keys (403 AuthenticationTypeDisabled) and still takes tokens; switchable at runtime", async () => {
    await sim.control.updateSettings({ disableKeyAuth: true });
    try {
      const e = await azureClient(sim, { maxRetries: 0 })
        .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e);
      expect(e).toBeInstanceOf(PermissionDeniedError);
      expect((e as PermissionDeniedError).code).toBe("AuthenticationTypeDisabled");
      const e2 = await v1Client(sim, { maxRetries: 0 })
        .models.list()
        .catch((e: unknown) => e);
      expect((e2 as PermissionDeniedError).status).toBe(403);
      const token = await sim.control.issueToken();
      const ok = await new OpenAI({ baseURL: `${sim.url}/openai/v1/`, apiKey: token.access_token }).models.list();
      expect(ok.data.length).toBeGreaterThan(0);
    } finally {
      await sim.control.updateSettings({ disableKeyAuth: false });
    }
  });

  it("the start option disableKeyAuth", async () => {
    const locked = await startFast({ disableKeyAuth: true });
    try {
      const res = await fetch(`${locked.url}/openai/v1/models`, { headers: { "api-key": locked.apiKey } });
      expect(res.status).toBe(403);
    } finally {
      await locked.stop();
    }
  });
});

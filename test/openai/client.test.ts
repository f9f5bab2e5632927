import type { AccessToken, TokenCredential } from "@azure/identity";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createOpenAIClient } from "../../src/openai/client.js";
import { CHAT_COMPLETION, sendJson, startRecordingServer } from "../support/recording-server.js";

/** A credential that hands out numbered tokens and records the scopes asked for. */
class CountingCredential implements TokenCredential {
  scopes: string[] = [];
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: `test-token-${this.scopes.length}`, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

let server: Awaited<ReturnType<typeof startRecordingServer>>;
beforeAll(async () => {
  server = await startRecordingServer((_req, res) => sendJson(res, 200, CHAT_COMPLETION));
});
afterAll(() => server.stop());
beforeEach(() => {
  server.requests.length = 0;
});

function configFor(env: Record<string, string>) {
  return loadConfig({ AZURE_OPENAI_ENDPOINT: server.url, AzureWebJobsStorage: "UseDevelopmentStorage=true", ...env }).openai;
}

async function chatOnce(env: Record<string, string>, credential?: TokenCredential) {
  const client = await createOpenAIClient(configFor(env), credential ? { credential } : {});
  const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
  expect(completion.choices[0]?.message.content).toBe("hi");
  expect(server.requests).toHaveLength(1);
  return server.requests[0]!;
}

describe("shared Azure OpenAI client", () => {
  it("v1 style with an API key: /openai/v1/ path, key as Bearer, no api-version", async () => {
    const request = await chatOnce({ AZURE_OPENAI_API_KEY: "test-key-v1-aaaaaaaa" });
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/openai/v1/chat/completions");
    expect(request.headers.authorization).toBe("Bearer test-key-v1-aaaaaaaa");
    expect(request.headers["api-key"]).toBeUndefined();
    expect(JSON.parse(request.body).model).toBe("gpt-4o-mini");
  });

  it("v1 style with Entra ID: a cognitive services token as Bearer", async () => {
    const credential = new CountingCredential();
    const request = await chatOnce({}, credential);
    expect(request.url).toBe("/openai/v1/chat/completions");
    expect(request.headers.authorization).toBe("Bearer test-token-1");
    expect(request.headers["api-key"]).toBeUndefined();
    expect(credential.scopes).toEqual(["https://cognitiveservices.azure.com/.default"]);
  });

  it("dated style with an API key: deployment path, api-version query, api-key header", async () => {
    const request = await chatOnce({ AZURE_OPENAI_API_STYLE: "dated", AZURE_OPENAI_API_KEY: "test-key-dated-bbbbbbbb" });
    expect(request.url).toBe("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21");
    expect(request.headers["api-key"]).toBe("test-key-dated-bbbbbbbb");
    expect(request.headers.authorization).toBeUndefined();
  });

  it("dated style with Entra ID and a chosen api-version", async () => {
    const request = await chatOnce(
      { AZURE_OPENAI_API_STYLE: "dated", AZURE_OPENAI_API_VERSION: "2025-04-01-preview" },
      new CountingCredential(),
    );
    expect(request.url).toBe("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-04-01-preview");
    expect(request.headers.authorization).toBe("Bearer test-token-1");
    expect(request.headers["api-key"]).toBeUndefined();
  });

  it("an endpoint pasted with /openai/v1/ still yields one /openai/v1/ prefix", async () => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: `${server.url}/openai/v1/`,
      AZURE_OPENAI_API_KEY: "k-cccccccccccc",
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
    }).openai;
    await (await createOpenAIClient(config)).embeddings.create({ model: "text-embedding-3-small", input: "x" }).catch(() => undefined);
    expect(server.requests[0]?.url).toBe("/openai/v1/embeddings");
  });

  it("asks for a fresh token per request through the provider (refresh is @azure/identity's job)", async () => {
    const credential = new CountingCredential();
    const client = await createOpenAIClient(configFor({}), { credential });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "a" }] });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "b" }] });
    // getBearerTokenProvider caches a valid token, so two requests reuse the first one.
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(["Bearer test-token-1", "Bearer test-token-1"]);
  });
});

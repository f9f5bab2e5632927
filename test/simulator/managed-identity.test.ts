import { ManagedIdentityCredential, getBearerTokenProvider } from "@azure/identity";
import { AzureOpenAI, OpenAI } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, startFast } from "./helpers.js";

// MSAL keeps the managed identity source and its token cache per process, so this file uses one
// simulator and sets IDENTITY_ENDPOINT / IDENTITY_HEADER once, before any credential exists.
const SCOPE = "https://cognitiveservices.azure.com/.default";
const TOKEN_LIFETIME_SECONDS = 2;
let sim: Simulator;

beforeAll(async () => {
  sim = await startFast({ disableKeyAuth: true, tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS });
  process.env.IDENTITY_ENDPOINT = sim.identity.endpoint;
  process.env.IDENTITY_HEADER = sim.identity.header;
});
afterAll(async () => {
  delete process.env.IDENTITY_ENDPOINT;
  delete process.env.IDENTITY_HEADER;
  await sim.stop();
});

async function callWith(token: string): Promise<number> {
  const res = await fetch(`${sim.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }] }),
  });
  return res.status;
}

describe("managed identity (App Service protocol) with @azure/identity's real ManagedIdentityCredential", () => {
  it("the identity endpoint answers the 2019-08-01 protocol and checks the secret header", async () => {
    const ok = await fetch(`${sim.identity.endpoint}?resource=https://cognitiveservices.azure.com&api-version=2019-08-01&client_id=abc`, {
      headers: { "X-IDENTITY-HEADER": sim.identity.header },
    });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ resource: "https://cognitiveservices.azure.com", token_type: "Bearer", client_id: "abc" });
    expect(body.expires_on).toBeGreaterThan(Date.now() / 1000);
    const noHeader = await fetch(`${sim.identity.endpoint}?resource=https://cognitiveservices.azure.com&api-version=2019-08-01`);
    expect(noHeader.status).toBe(401);
    const oldVersion = await fetch(`${sim.identity.endpoint}?resource=https://cognitiveservices.azure.com&api-version=2017-09-01`, {
      headers: { "X-IDENTITY-HEADER": sim.identity.header },
    });
    expect(oldVersion.status).toBe(400);
  });

  it("a user-assigned identity's token works with AzureOpenAI and the v1 OpenAI client, with keys disabled", async () => {
    const credential = new ManagedIdentityCredential({ clientId: "00000000-0000-0000-0000-00000000c1d0" });
    const token = await credential.getToken(SCOPE);
    expect(token.token.split(".")).toHaveLength(3);
    const claims = JSON.parse(Buffer.from(token.token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ aud: "https://cognitiveservices.azure.com", appid: "00000000-0000-0000-0000-00000000c1d0" });

    const azureADTokenProvider = getBearerTokenProvider(credential, SCOPE);
    const dated = new AzureOpenAI({ endpoint: sim.url, apiVersion: API_VERSION, azureADTokenProvider });
    expect(
      (await dated.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] })).choices,
    ).toHaveLength(1);
    const v1 = new OpenAI({ baseURL: `${sim.url}/openai/v1/`, apiKey: azureADTokenProvider });
    expect((await v1.embeddings.create({ model: "text-embedding-3-small", input: "x" })).data).toHaveLength(1);
    const journal = await sim.control.journal();
    expect(journal.slice(-2).map((e) => e.auth)).toEqual(["entra", "entra"]);
  });

  it("tokens expire: the old one gets 401, the credential fetches a new one that works", async () => {
    const credential = new ManagedIdentityCredential({ clientId: "00000000-0000-0000-0000-00000000c1d0" });
    const first = await credential.getToken(SCOPE);
    expect(await callWith(first.token)).toBe(200);
    const issuedBefore = (await sim.control.counters()).identity.tokensIssued;
    await new Promise((r) => setTimeout(r, TOKEN_LIFETIME_SECONDS * 1000 + 300));
    expect(await callWith(first.token)).toBe(401);

    const provider = getBearerTokenProvider(credential, SCOPE);
    const client = new AzureOpenAI({ endpoint: sim.url, apiVersion: API_VERSION, azureADTokenProvider: provider, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
    expect(r.choices).toHaveLength(1);
    expect((await sim.control.counters()).identity.tokensIssued).toBeGreaterThan(issuedBefore);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createOpenAIClient } from "../../src/openai/client.js";
import { NO_LATENCY, start, type Simulator } from "../../tools/simulator/index.js";

// The app's own client, with no key, on a platform that offers a managed identity: it must use the
// real ManagedIdentityCredential (App Service protocol) and refresh tokens as they expire.
// MSAL reads IDENTITY_ENDPOINT once per process and caches tokens, so this file uses one simulator.
const TOKEN_LIFETIME_SECONDS = 2;
const CLIENT_ID = "00000000-0000-0000-0000-0000000a11ce";
let sim: Simulator;

beforeAll(async () => {
  // Keys disabled, as the Bicep deploys Azure OpenAI: only Entra tokens get in.
  sim = await start({ latency: NO_LATENCY, disableKeyAuth: true, tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS });
  process.env.IDENTITY_ENDPOINT = sim.identity.endpoint;
  process.env.IDENTITY_HEADER = sim.identity.header;
});
afterAll(async () => {
  delete process.env.IDENTITY_ENDPOINT;
  delete process.env.IDENTITY_HEADER;
  await sim.stop();
});

function appConfig(style: "v1" | "dated") {
  return loadConfig({
    AZURE_OPENAI_ENDPOINT: sim.url,
    AZURE_OPENAI_API_STYLE: style,
    AZURE_CLIENT_ID: CLIENT_ID,
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
    IDENTITY_ENDPOINT: sim.identity.endpoint,
    IDENTITY_HEADER: sim.identity.header,
  }).openai;
}

describe("the shared client on managed identity", () => {
  it.each(["v1", "dated"] as const)("%s style: authenticates with the user-assigned identity's token", async (style) => {
    const config = appConfig(style);
    expect(config.managedIdentityAvailable).toBe(true);
    const client = await createOpenAIClient(config);
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
    expect(completion.choices[0]?.message.content).toBeTruthy();
    const [entry] = (await sim.control.journal()).slice(-1);
    expect(entry).toMatchObject({ auth: "entra", status: 200, apiStyle: style, deployment: "gpt-4o-mini" });
  });

  it("fetches a new token when the old one expires, and keeps working", async () => {
    const client = await createOpenAIClient(appConfig("v1"));
    await client.embeddings.create({ model: "text-embedding-3-small", input: "first" });
    const issuedBefore = (await sim.control.counters()).identity.tokensIssued;
    await new Promise((resolve) => setTimeout(resolve, TOKEN_LIFETIME_SECONDS * 1000 + 300));
    const second = await client.embeddings.create({ model: "text-embedding-3-small", input: "second" }, { maxRetries: 0 });
    expect(second.data).toHaveLength(1);
    expect((await sim.control.counters()).identity.tokensIssued).toBeGreaterThan(issuedBefore);
    const statuses = (await sim.control.journal()).slice(-2).map((e) => [e.auth, e.status]);
    expect(statuses).toEqual([
      ["entra", 200],
      ["entra", 200],
    ]);
  });
});

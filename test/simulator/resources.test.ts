import { ManagedIdentityCredential, getBearerTokenProvider } from "@azure/identity";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import {
  AuthenticationError,
  AzureOpenAI,
  InternalServerError,
  NotFoundError,
  OpenAI,
  PermissionDeniedError,
  RateLimitError,
} from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSimulatorProcess } from "../../bench/simulator-process.js";
import type { Simulator, SimulatorResource } from "../../tools/simulator/index.js";
import { API_VERSION, startFast, unexpected } from "./helpers.js";

// Several simulated Azure OpenAI resources in one simulator: each its own deployments, key,
// quotas, faults, journal and counters; one identity whose tokens work on all. MSAL keeps the
// managed identity source per process, so this file sets IDENTITY_ENDPOINT once, before any credential.
const SCOPE = "https://cognitiveservices.azure.com/.default";
const messages = [{ role: "user" as const, content: "Hi" }];
let sim: Simulator;
let sweden: SimulatorResource;
let eastus: SimulatorResource;

beforeAll(async () => {
  sim = await startFast({
    resources: [
      {
        name: "swedencentral",
        deployments: [
          { name: "chat", model: "gpt-4o-mini", capability: "chat" },
          { name: "embed", model: "text-embedding-3-small", capability: "embeddings" },
        ],
      },
      { name: "eastus", deployments: [{ name: "chat", model: "gpt-4o", capability: "chat" }], disableKeyAuth: true },
    ],
  });
  [sweden, eastus] = sim.resources as [SimulatorResource, SimulatorResource];
  process.env.IDENTITY_ENDPOINT = sim.identity.endpoint;
  process.env.IDENTITY_HEADER = sim.identity.header;
});
afterAll(async () => {
  delete process.env.IDENTITY_ENDPOINT;
  delete process.env.IDENTITY_HEADER;
  await sim.stop();
});
beforeEach(() => Promise.all([sim.control.reset(), sweden.control.reset(), eastus.control.reset()]));

/** A port free a moment ago (the OS does not hand it out again at once). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function keyClient(url: string, apiKey: string): AzureOpenAI {
  return new AzureOpenAI({ endpoint: url, apiVersion: API_VERSION, apiKey, maxRetries: 0 });
}

function tokenClient(url: string): AzureOpenAI {
  const azureADTokenProvider = getBearerTokenProvider(new ManagedIdentityCredential(), SCOPE);
  return new AzureOpenAI({ endpoint: url, apiVersion: API_VERSION, azureADTokenProvider, maxRetries: 0 });
}

describe("several resources in one simulator", () => {
  it("each listens on its own port, named in order, and the primary stays where it was", () => {
    expect(sim.resources.map((resource) => resource.name)).toEqual(["swedencentral", "eastus"]);
    const ports = new Set([sim.url, sweden.url, eastus.url].map((url) => new URL(url).port));
    expect(ports.size).toBe(3);
    // Each has its own key, as each Azure resource has its own.
    expect(new Set([sim.apiKey, sweden.apiKey, eastus.apiKey]).size).toBe(3);
  });

  it("each serves its own deployments", async () => {
    const client = keyClient(sweden.url, sweden.apiKey);
    const answer = await client.chat.completions.create({ model: "chat", messages });
    expect(answer.model).toBe("gpt-4o-mini");
    expect((await client.embeddings.create({ model: "embed", input: "x" })).data).toHaveLength(1);
    const onEastus = await tokenClient(eastus.url).chat.completions.create({ model: "chat", messages });
    expect(onEastus.model).toBe("gpt-4o");
    const missing = await tokenClient(eastus.url)
      .embeddings.create({ model: "embed", input: "x" })
      .then(unexpected, (e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe("DeploymentNotFound");
    // The v1 models list too, and the primary keeps the shipped set.
    const v1 = new OpenAI({ baseURL: `${sweden.url}/openai/v1/`, apiKey: sweden.apiKey });
    expect((await v1.models.list()).data.map((model) => model.id)).toEqual(["chat", "embed"]);
    expect((await sim.control.deployments()).map((deployment) => deployment.name)).toContain("gpt-4o-mini");
  });

  it("answers name their resource in x-ms-region", async () => {
    const { response } = await keyClient(sweden.url, sweden.apiKey).chat.completions.create({ model: "chat", messages }).withResponse();
    expect(response.headers.get("x-ms-region")).toBe("swedencentral");
    const primary = await keyClient(sim.url, sim.apiKey).chat.completions.create({ model: "gpt-4o-mini", messages }).withResponse();
    expect(primary.response.headers.get("x-ms-region")).toBe("Simulated Region");
  });
});

describe("one identity for every resource", () => {
  it("a token from the one identity endpoint (ManagedIdentityCredential) works on each resource", async () => {
    const credential = new ManagedIdentityCredential();
    const { token } = await credential.getToken(SCOPE);
    for (const [url, model] of [
      [sim.url, "gpt-4o-mini"],
      [sweden.url, "chat"],
      [eastus.url, "chat"],
    ] as const) {
      const res = await fetch(`${url}/openai/deployments/${model}/chat/completions?api-version=${API_VERSION}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ messages }),
      });
      expect(res.status, url).toBe(200);
    }
    for (const control of [sim.control, sweden.control, eastus.control])
      expect((await control.journal()).map((entry) => entry.auth)).toEqual(["entra"]);
  });

  it("one token provider serves clients of every resource, dated and v1", async () => {
    const azureADTokenProvider = getBearerTokenProvider(new ManagedIdentityCredential(), SCOPE);
    const clients = [
      new AzureOpenAI({ endpoint: sweden.url, apiVersion: API_VERSION, azureADTokenProvider }),
      new AzureOpenAI({ endpoint: eastus.url, apiVersion: API_VERSION, azureADTokenProvider }),
    ];
    for (const client of clients) expect((await client.chat.completions.create({ model: "chat", messages })).choices).toHaveLength(1);
    const v1 = new OpenAI({ baseURL: `${eastus.url}/openai/v1/`, apiKey: azureADTokenProvider });
    expect((await v1.chat.completions.create({ model: "chat", messages })).choices).toHaveLength(1);
  });

  it("tokens minted by any resource's control API are the same identity's; only the primary serves the identity endpoint", async () => {
    const { access_token } = await sweden.control.issueToken();
    const res = await fetch(`${eastus.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "chat", messages }),
    });
    expect(res.status).toBe(200);
    const identityOnResource = await fetch(`${sweden.url}/msi/token?resource=https://cognitiveservices.azure.com&api-version=2019-08-01`, {
      headers: { "X-IDENTITY-HEADER": sim.identity.header },
    });
    expect(identityOnResource.status).toBe(404);
    // The identity's count is the same, whichever resource reports it.
    expect((await eastus.control.counters()).identity).toEqual((await sim.control.counters()).identity);
  });
});

describe("keys are per resource", () => {
  it("a resource refuses another resource's key, and accepts its own", async () => {
    const wrong = await keyClient(sweden.url, sim.apiKey)
      .chat.completions.create({ model: "chat", messages })
      .then(unexpected, (e: unknown) => e);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    const primaryWithSwedenKey = await keyClient(sim.url, sweden.apiKey)
      .chat.completions.create({ model: "gpt-4o-mini", messages })
      .then(unexpected, (e: unknown) => e);
    expect(primaryWithSwedenKey).toBeInstanceOf(AuthenticationError);
    expect((await keyClient(sweden.url, sweden.apiKey).chat.completions.create({ model: "chat", messages })).choices).toHaveLength(1);
  });

  it("disableKeyAuth is per resource: eastus refuses even its own key, the others take theirs", async () => {
    const refused = await keyClient(eastus.url, eastus.apiKey)
      .chat.completions.create({ model: "chat", messages })
      .then(unexpected, (e: unknown) => e);
    expect(refused).toBeInstanceOf(PermissionDeniedError);
    expect((refused as PermissionDeniedError).code).toBe("AuthenticationTypeDisabled");
    expect((await sweden.control.settings()).disableKeyAuth).toBe(false);
    expect((await eastus.control.settings()).disableKeyAuth).toBe(true);
  });
});

describe("faults, quotas, journals and counters are per resource", () => {
  it("a fault rule on one resource leaves the same-named deployment of another alone", async () => {
    await sweden.control.setFaults("chat", [{ kind: 503 }]);
    const failed = await keyClient(sweden.url, sweden.apiKey)
      .chat.completions.create({ model: "chat", messages })
      .then(unexpected, (e: unknown) => e);
    expect(failed).toBeInstanceOf(InternalServerError);
    expect((failed as InternalServerError).status).toBe(503);
    expect((await tokenClient(eastus.url).chat.completions.create({ model: "chat", messages })).choices).toHaveLength(1);
    expect((await eastus.control.deployment("chat")).faults).toBeUndefined();
  });

  it("a quota on one resource throttles only that resource", async () => {
    await sweden.control.setQuota("chat", { rpm: 1 });
    const client = keyClient(sweden.url, sweden.apiKey);
    await client.chat.completions.create({ model: "chat", messages });
    const throttled = await client.chat.completions.create({ model: "chat", messages }).then(unexpected, (e: unknown) => e);
    expect(throttled).toBeInstanceOf(RateLimitError);
    const other = tokenClient(eastus.url);
    for (let i = 0; i < 3; i++) expect((await other.chat.completions.create({ model: "chat", messages })).choices).toHaveLength(1);
  });

  it("each resource journals and counts only its own requests, and a reset clears only its own", async () => {
    await keyClient(sweden.url, sweden.apiKey).chat.completions.create({ model: "chat", messages });
    await keyClient(sweden.url, sweden.apiKey).embeddings.create({ model: "embed", input: "x" });
    await tokenClient(eastus.url).chat.completions.create({ model: "chat", messages });
    expect((await sweden.control.journal()).map((entry) => entry.deployment)).toEqual(["chat", "embed"]);
    expect((await eastus.control.journal()).map((entry) => entry.deployment)).toEqual(["chat"]);
    expect(await sim.control.journal()).toEqual([]);
    const swedenCounters = await sweden.control.counters();
    expect(swedenCounters.total.requests).toBe(2);
    expect(swedenCounters.deployments.chat!.requests).toBe(1);
    expect((await eastus.control.counters()).deployments.chat!.requests).toBe(1);

    await sweden.control.reset();
    expect(await sweden.control.journal()).toEqual([]);
    expect(await eastus.control.journal()).toHaveLength(1);
  });
});

describe("start()", () => {
  it("refuses a malformed or repeated resource name, and a taken port, leaving nothing listening", async () => {
    await expect(startFast({ resources: [{ name: "a b" }] })).rejects.toThrow(/resources\[0\]\.name/);
    await expect(startFast({ resources: [{ name: "west" }, { name: "west" }] })).rejects.toThrow(/west twice/);
    const taken = Number(new URL(sweden.url).port);
    const primaryPort = await freePort();
    await expect(startFast({ port: primaryPort, resources: [{ name: "clash", port: taken }] })).rejects.toThrow(/EADDRINUSE/);
    // The primary that did start was closed again: its port is free.
    await new Promise<void>((resolve, reject) => {
      const probe = createServer().once("error", reject);
      probe.listen(primaryPort, "127.0.0.1", () => probe.close(() => resolve()));
    });
  });

  it("stop() stops every resource", async () => {
    const other = await startFast({ resources: [{ name: "one" }, { name: "two" }] });
    const urls = [other.url, ...other.resources.map((resource) => resource.url)];
    await other.stop();
    for (const url of urls) await expect(fetch(`${url}/_simulator/health`)).rejects.toThrow();
  });
});

describe("CLI --resource, through bench/simulator-process.ts", () => {
  const cli = fileURLToPath(new URL("../../dist/tools/simulator/cli.js", import.meta.url));
  // `npm test` builds dist/ first; a bare `vitest` run without a build skips this one.
  it.skipIf(!existsSync(cli))("starts the extra resources, prints each one's endpoint and key, and they answer", async () => {
    const child = await startSimulatorProcess({ resources: ["westeurope", "eastus2"] });
    try {
      expect(child.resources.map((resource) => resource.name)).toEqual(["westeurope", "eastus2"]);
      for (const resource of child.resources) {
        const client = keyClient(resource.url, resource.apiKey);
        expect((await client.chat.completions.create({ model: "gpt-4o-mini", messages })).choices).toHaveLength(1);
        expect(await resource.control.journal()).toHaveLength(1);
      }
      expect(await child.control.journal()).toHaveLength(0);
    } finally {
      await child.stop();
    }
  });
});

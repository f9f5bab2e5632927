import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_DEPLOYMENTS, createSimulatorControl, loadDeploymentsFile, start, type Simulator } from "../../tools/simulator/index.js";
import { API_VERSION, azureClient, startFast, unexpected } from "./helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({ apiKey: "test-key-not-a-secret" });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

const messages = [{ role: "user" as const, content: "Hi" }];

describe("start options", () => {
  it("ships the default deployments and takes a given key", async () => {
    expect(sim.apiKey).toBe("test-key-not-a-secret");
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await sim.control.deployments()).map((d) => [d.name, d.capability])).toEqual([
      ["gpt-4o-mini", "chat"],
      ["text-embedding-3-small", "embeddings"],
      ["whisper", "transcription"],
      ["tts", "speech"],
      ["dall-e-3", "image"],
      ["gpt-4o-mini-tts", "speech"],
      ["gpt-image-1", "image"],
      ["gpt-4o-transcribe", "transcription"],
      ["gpt-4o-mini-transcribe", "transcription"],
      ["gpt-4o-transcribe-diarize", "transcription"],
    ]);
    expect(DEFAULT_DEPLOYMENTS.find((d) => d.name === "text-embedding-3-small")!.dimensions).toBe(1536);
  });

  it("makes a random key when none is given, and refuses malformed deployments", async () => {
    const other = await startFast();
    try {
      expect(other.apiKey).toMatch(/^[0-9a-f]{32}$/);
      expect(other.identity.endpoint).toBe(`${other.url}/msi/token`);
    } finally {
      await other.stop();
    }
    await expect(start({ deployments: [{ name: "x", model: "m", capability: "telepathy" as "chat" }] })).rejects.toThrow(/capability/);
    await expect(start({ deployments: [{ name: "x", model: "m", capability: "chat", faults: [{ kind: 999 }] }] })).rejects.toThrow(
      /faults\[0\]\.kind/,
    );
  });

  it("reads a deployments file, as an array or under 'deployments'", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sim-"));
    try {
      const file = path.join(dir, "deployments.json");
      await writeFile(
        file,
        JSON.stringify({
          deployments: [{ name: "chat", model: "gpt-4o", capability: "chat", tpm: 30000, rpm: 180, latency: { timeToFirstTokenMs: 400 } }],
        }),
      );
      expect(await loadDeploymentsFile(file)).toEqual([
        { name: "chat", model: "gpt-4o", capability: "chat", tpm: 30000, rpm: 180, latency: { timeToFirstTokenMs: 400 } },
      ]);
      await writeFile(file, JSON.stringify([{ name: "e", model: "text-embedding-3-large", capability: "embeddings" }]));
      expect((await loadDeploymentsFile(file))[0]!.name).toBe("e");
      await writeFile(
        file,
        JSON.stringify([
          { name: "e", model: "m", capability: "chat" },
          { name: "e", model: "m", capability: "chat" },
        ]),
      );
      await expect(loadDeploymentsFile(file)).rejects.toThrow(/duplicate/);
      await writeFile(file, "{not json");
      await expect(loadDeploymentsFile(file)).rejects.toThrow(/not valid JSON/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe("control API", () => {
  it("journal: what each request was, filterable", async () => {
    const client = azureClient(sim);
    await client.chat.completions.create({ model: "gpt-4o-mini", messages }, { headers: { "x-ms-client-request-id": "abc" } });
    await client.embeddings.create({ model: "text-embedding-3-small", input: "x" });
    const all = await sim.control.journal();
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({
      id: expect.any(Number),
      method: "POST",
      deployment: "gpt-4o-mini",
      operation: "chat/completions",
      status: 200,
      stream: false,
      auth: "api-key",
      headers: { "x-ms-client-request-id": "abc", "user-agent": expect.stringContaining("OpenAI") },
      body: { messages },
    });
    expect(all[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await sim.control.journal({ operation: "embeddings" })).toHaveLength(1);
    expect(await sim.control.journal({ deployment: "gpt-4o-mini" })).toHaveLength(1);
    expect(await sim.control.journal({ since: all[0]!.id })).toHaveLength(1);
    expect(await sim.control.journal({ limit: 1 })).toEqual([all[1]]);
  });

  it("counters: per deployment, total, unrouted, identity", async () => {
    const client = azureClient(sim, { maxRetries: 0 });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    await client.chat.completions.create({ model: "missing", messages }).catch(() => undefined);
    const c = await sim.control.counters();
    expect(c.deployments["gpt-4o-mini"]).toMatchObject({ requests: 1, statuses: { 200: 1 }, throttled: 0, abortedStreams: 0 });
    expect(c.unrouted).toMatchObject({ requests: 1, statuses: { 404: 1 } });
    expect(c.total.requests).toBe(2);
    expect(c.total.statuses).toEqual({ 200: 1, 404: 1 });
    expect(c.total.totalTokens).toBe(c.deployments["gpt-4o-mini"]!.totalTokens);
    expect(c.identity.tokensIssued).toBeGreaterThanOrEqual(0);
  });

  it("reset clears journal and counters and restores the start deployments, unless kept", async () => {
    await sim.control.setLatency("gpt-4o-mini", { timeToFirstTokenMs: 5 });
    await azureClient(sim).chat.completions.create({ model: "gpt-4o-mini", messages });
    await sim.control.reset({ keepDeployments: true });
    expect(await sim.control.journal()).toEqual([]);
    expect((await sim.control.counters()).total.requests).toBe(0);
    expect((await sim.control.deployment("gpt-4o-mini")).latency).toEqual({ timeToFirstTokenMs: 5 });
    await sim.control.reset();
    expect((await sim.control.deployment("gpt-4o-mini")).latency).toBeUndefined();
  });

  it("PATCH merges latency, replaces faults, validates; '*' patches every deployment", async () => {
    await sim.control.updateDeployment("gpt-4o-mini", { latency: { timeToFirstTokenMs: 5 } });
    const [d] = await sim.control.updateDeployment("gpt-4o-mini", { latency: { tokensPerSecond: 50 }, faults: [{ kind: 503, every: 2 }] });
    expect(d!.latency).toEqual({ timeToFirstTokenMs: 5, tokensPerSecond: 50 });
    expect(d!.faults).toEqual([{ kind: 503, every: 2 }]);
    const all = await sim.control.updateDeployment("*", { latency: { requestMs: 1 } });
    expect(all).toHaveLength(DEFAULT_DEPLOYMENTS.length);
    expect(all.every((x) => x.latency?.requestMs === 1)).toBe(true);
    await expect(sim.control.updateDeployment("gpt-4o-mini", { latency: { warp: 1 } as never })).rejects.toThrow(/latency\.warp: unknown/);
    await expect(sim.control.updateDeployment("gpt-4o-mini", { faults: [{ kind: "boom" as never }] })).rejects.toThrow(/400/);
    await expect(sim.control.updateDeployment("nope", { rpm: 1 })).rejects.toThrow(/404/);
  });

  it("PATCH with null removes an override: the whole latency, one latency field, or any other field", async () => {
    await sim.control.updateDeployment("gpt-4o-mini", {
      latency: { timeToFirstTokenMs: 400, tokensPerSecond: 50 },
      faults: [{ kind: 503, every: 2 }],
      tpm: 1000,
    });
    // One latency field: the others stay.
    const [one] = await sim.control.updateDeployment("gpt-4o-mini", { latency: { timeToFirstTokenMs: null } });
    expect(one!.latency).toEqual({ tokensPerSecond: 50 });
    await sim.control.setLatency("gpt-4o-mini", { requestMs: 3, tokensPerSecond: null });
    expect((await sim.control.deployment("gpt-4o-mini")).latency).toEqual({ requestMs: 3 });
    // The whole override, and other fields.
    const [none] = await sim.control.updateDeployment("gpt-4o-mini", { latency: null, faults: null, tpm: null });
    expect(none).not.toHaveProperty("latency");
    expect(none).not.toHaveProperty("faults");
    expect(none).not.toHaveProperty("tpm");
    expect(await sim.control.deployment("gpt-4o-mini")).toEqual(none);
    // A latency whose last field is removed is no override at all.
    await sim.control.setLatency("gpt-4o-mini", { embeddingsMs: 1 });
    await sim.control.setLatency("gpt-4o-mini", { embeddingsMs: null });
    expect(await sim.control.deployment("gpt-4o-mini")).not.toHaveProperty("latency");
    // Removing a field that is not set is harmless; an unknown one is still refused.
    await sim.control.setLatency("gpt-4o-mini", { stdDevRatio: null });
    await expect(sim.control.setLatency("gpt-4o-mini", { warp: null } as never)).rejects.toThrow(/latency\.warp: unknown/);
    await expect(sim.control.updateDeployment("gpt-4o-mini", { latency: 5 as never })).rejects.toThrow(/latency: an object, or null/);
    await expect(sim.control.updateDeployment("gpt-4o-mini", { model: null })).rejects.toThrow(/model: a non-empty string/);
  });

  it("a removed override no longer applies to requests", async () => {
    await sim.control.setLatency("gpt-4o-mini", { timeToFirstTokenMs: 400, stdDevRatio: 0 });
    await sim.control.updateDeployment("gpt-4o-mini", { latency: null });
    const started = performance.now();
    await azureClient(sim).chat.completions.create({ model: "gpt-4o-mini", messages });
    // The simulator's own latency (none in these tests), not the 400 ms that was removed.
    expect(performance.now() - started).toBeLessThan(300);
  });

  it("PUT adds a deployment, DELETE removes it", async () => {
    await sim.control.putDeployment({ name: "gpt-4o", model: "gpt-4o", modelVersion: "2024-11-20", capability: "chat" });
    const r = await azureClient(sim).chat.completions.create({ model: "gpt-4o", messages });
    expect(r.model).toBe("gpt-4o-2024-11-20");
    await sim.control.deleteDeployment("gpt-4o");
    const e = await azureClient(sim, { maxRetries: 0 })
      .chat.completions.create({ model: "gpt-4o", messages })
      .then(unexpected, (e: unknown) => e as { status: number });
    expect(e.status).toBe(404);
  });

  it("is reachable from another process's client over HTTP", async () => {
    const remote = createSimulatorControl(sim.url + "/");
    expect((await remote.settings()).disableKeyAuth).toBe(false);
    const res = await fetch(`${sim.url}/_simulator/counters`);
    expect(res.status).toBe(200);
    const unknown = await fetch(`${sim.url}/_simulator/nothing`);
    expect(unknown.status).toBe(404);
  });
});

describe("a client that leaves before the response headers", () => {
  /**
   * Sends a chat request over a raw connection and destroys it while the simulator waits out
   * `fault` (a delay), before any header was sent.
   */
  async function abandonWhileWaiting(fault: string, body: object = { messages }): Promise<void> {
    const text = JSON.stringify(body);
    const req = request(`${sim.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`, {
      method: "POST",
      headers: {
        "api-key": sim.apiKey,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
        "x-simulator-fault": fault,
      },
    });
    let answered = false;
    req.on("response", () => (answered = true));
    req.on("error", () => undefined); // the destroy below
    req.end(text);
    // The deployment counts the request when it takes it; from then on the simulator is waiting.
    await expect.poll(async () => (await sim.control.counters()).deployments["gpt-4o-mini"]!.requests).toBe(1);
    req.destroy();
    expect(answered).toBe(false);
    await expect.poll(async () => (await sim.control.journal()).length).toBe(1);
  }

  it("is journalled as aborted, with status 0, and counted in abortedRequests", async () => {
    await abandonWhileWaiting("delay;ms=5000");
    const [entry] = await sim.control.journal();
    expect(entry).toMatchObject({ deployment: "gpt-4o-mini", status: 0, aborted: true, stream: false, faults: ["delay"] });
    expect((await sim.control.counters()).deployments["gpt-4o-mini"]).toMatchObject({
      requests: 1,
      statuses: { 0: 1 },
      abortedRequests: 1,
      abortedStreams: 0,
    });
  });

  it("keeps that record when the request would have failed after the wait", async () => {
    await abandonWhileWaiting("delay;ms=5000, 503");
    // The 503 the fault would have answered reaches no one, and does not overwrite the record.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await sim.control.journal())[0]).toMatchObject({ status: 0, aborted: true, faults: ["delay", "503"] });
    const counters = (await sim.control.counters()).deployments["gpt-4o-mini"]!;
    expect(counters.statuses).toEqual({ 0: 1 });
    expect(counters.abortedRequests).toBe(1);
  });

  it("counts a stream left before its first byte in abortedStreams", async () => {
    await abandonWhileWaiting("delay;ms=5000", { messages, stream: true });
    expect((await sim.control.journal())[0]).toMatchObject({ status: 0, aborted: true, stream: true });
    expect((await sim.control.counters()).deployments["gpt-4o-mini"]).toMatchObject({ abortedStreams: 1, abortedRequests: 0 });
  });
});

describe("CLI", () => {
  const cli = fileURLToPath(new URL("../../dist/tools/simulator/cli.js", import.meta.url));
  // `npm test` builds dist/ first; a bare `vitest` run without a build skips this one.
  it.skipIf(!existsSync(cli))("prints where it listens, serves, and stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [cli, "--port", "0", "--api-key", "cli-key", "--no-latency"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        let text = "";
        child.stdout.on("data", (d: Buffer) => {
          text += d.toString();
          if (text.includes("Control API")) resolve(text);
        });
        child.on("exit", (code) => reject(new Error(`cli exited ${code}: ${text}`)));
      });
      const url = out.match(/Azure OpenAI simulator listening on (http:\/\/127\.0\.0\.1:\d+)/)![1]!;
      expect(out).toContain(`Identity endpoint: ${url}/msi/token`);
      expect(out).toContain("AZURE_OPENAI_API_KEY=cli-key");
      const res = await fetch(`${url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`, {
        method: "POST",
        headers: { "api-key": "cli-key", "content-type": "application/json" },
        body: JSON.stringify({ messages }),
      });
      expect(res.status).toBe(200);
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  });
});

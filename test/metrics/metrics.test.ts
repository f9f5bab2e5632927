/**
 * The metrics of real calls: each capability's service through the router against two simulated
 * Azure OpenAI resources over HTTP (the official client, the app's code path), read back with an
 * OpenTelemetry MetricReader in memory, as an exporter would receive them. Values are compared
 * with what the simulator answered (its usage), never with the app's own word.
 */
import { MeterProvider, MetricReader, type DataPoint, type MetricData } from "@opentelemetry/sdk-metrics";
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { completeChat, openChatStream } from "../../src/chat/chat-service.js";
import { loadConfig, type Config } from "../../src/config.js";
import { parseAudioRequest } from "../../src/http/audio-request.js";
import { transcribeUpload } from "../../src/http/audio-transcription.js";
import { parseChatRequest } from "../../src/http/chat-request.js";
import { createEmbeddings } from "../../src/http/embeddings-call.js";
import { parseEmbeddingsRequest } from "../../src/http/embeddings-request.js";
import { generateImages } from "../../src/images/images-call.js";
import { parseImageGeneration } from "../../src/images/images-request.js";
import { MAX_TRACKED_CALLERS, OTHER_CALLERS } from "../../src/metrics/caller-names.js";
import { recordCall, resetMetrics, usageSnapshot, useMeter, usePrices } from "../../src/metrics/index.js";
import { parseResponsesRequest } from "../../src/responses/responses-request.js";
import { createResponse } from "../../src/responses/responses-service.js";
import { createRouter, modelsFor, type Router } from "../../src/routing/index.js";
import { openSpeech } from "../../src/speech/speech-call.js";
import { parseSpeechRequest } from "../../src/speech/speech-request.js";
import { NO_LATENCY, start, type Simulator, type SimulatorResource } from "../../tools/simulator/index.js";
import { sampleWav } from "../../tools/send/sample-wav.js";

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const signal = new AbortController().signal;
// One signal shared by every call of the file: not a leak.
setMaxListeners(0, signal);

/** Example prices (not Azure's): only the arithmetic is under test. */
const PRICES = {
  currency: "EUR",
  models: {
    "gpt-4o": { inputPer1M: 2.5, cachedInputPer1M: 1.25, outputPer1M: 10 },
    "text-embedding-3-small": { inputPer1M: 0.02 },
    whisper: { perAudioMinute: 0.006 },
    "gpt-4o-mini-tts": { per1MCharacters: 15 },
    "gpt-image-1": { perImage: 0.04 },
  },
};

/** Reads what an exporter would be handed, on demand. */
class InMemoryReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

let sim: Simulator;
let eu: SimulatorResource;
let us: SimulatorResource;
let config: Config;
let router: Router;
let reader: InMemoryReader;

beforeAll(async () => {
  sim = await start({ latency: NO_LATENCY, resources: [{ name: "eu" }, { name: "us" }] });
  [eu, us] = sim.resources as [SimulatorResource, SimulatorResource];
  const both = (capabilities: string[]) => [
    { name: "eu", endpoint: eu.url, deployment: "gpt-4o-mini", capabilities, priority: 0, apiKeySetting: "EU_KEY" },
    { name: "us", endpoint: us.url, deployment: "gpt-4o-mini", capabilities, priority: 1, apiKeySetting: "US_KEY" },
  ];
  const on = (deployment: string, capability: string) => [
    { name: "eu", endpoint: eu.url, deployment, capabilities: [capability], apiKeySetting: "EU_KEY" },
  ];
  config = loadConfig({
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
    AZURE_OPENAI_DEPLOYMENTS: JSON.stringify({
      "gpt-4o": both(["chat", "responses"]),
      "text-embedding-3-small": on("text-embedding-3-small", "embeddings"),
      whisper: on("whisper", "transcription"),
      "gpt-4o-mini-tts": on("gpt-4o-mini-tts", "speech"),
      "gpt-image-1": on("gpt-image-1", "images"),
    }),
    EU_KEY: eu.apiKey,
    US_KEY: us.apiKey,
    AI_PRICES: JSON.stringify(PRICES),
  });
});
afterAll(() => sim?.stop());
beforeEach(async () => {
  await Promise.all([eu.control.reset(), us.control.reset()]);
  // A fresh router (no cooldowns from the last test), fresh totals, a fresh reader.
  router = createRouter(config.openai);
  resetMetrics();
  usePrices(config.metrics.prices);
  reader = new InMemoryReader();
  useMeter(new MeterProvider({ readers: [reader] }).getMeter("test"));
});

async function collected(): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
}

async function points(name: string): Promise<Point[]> {
  const metric = (await collected()).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((point: DataPoint<unknown>) => ({ attributes: { ...point.attributes }, value: point.value }));
}

/** The one point whose attributes include these, or a failure listing what there is. */
async function pointOf(name: string, attributes: Record<string, unknown>): Promise<Point> {
  const all = await points(name);
  const found = all.filter((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value));
  expect(found, `${name} ${JSON.stringify(attributes)} among ${JSON.stringify(all.map((p) => p.attributes))}`).toHaveLength(1);
  return found[0]!;
}

function chatRequest(content: string, extra: Record<string, unknown> = {}) {
  return parseChatRequest(
    { model: "gpt-4o", messages: [{ role: "user", content }], max_tokens: 8, ...extra },
    modelsFor(config.openai, "chat"),
  );
}

async function chat(caller: string, content = "Say hello") {
  const request = chatRequest(content);
  return router.run(router.route("chat", "gpt-4o"), { logger: quiet, caller }, (target) =>
    completeChat({ client: target.client, logger: target.logger }, { ...request, deployment: target.backend.deployment }, signal),
  );
}

describe("metrics of Azure OpenAI calls", () => {
  it("chat: requests, tokens, cost and duration by capability, model, deployment, backend and caller", async () => {
    const { value: answer } = await chat("team-a");
    const usage = answer.usage!;
    const dims = { capability: "chat", model: "gpt-4o", deployment: "gpt-4o-mini", backend: "eu", caller: "team-a" };

    expect(await points("aoai.requests")).toEqual([{ attributes: { ...dims, outcome: "ok" }, value: 1 }]);
    expect((await pointOf("aoai.tokens", { ...dims, token_type: "prompt" })).value).toBe(usage.prompt_tokens);
    expect((await pointOf("aoai.tokens", { ...dims, token_type: "completion" })).value).toBe(usage.completion_tokens);
    // The simulator reports no cached or reasoning tokens: no points for them, rather than zeros.
    expect((await points("aoai.tokens")).map((p) => p.attributes.token_type).sort()).toEqual(["completion", "prompt"]);
    const cost = (await pointOf("aoai.cost", dims)).value as number;
    expect(cost).toBeCloseTo((usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1_000_000, 12);
    const duration = await pointOf("aoai.duration", { capability: "chat", model: "gpt-4o", backend: "eu", outcome: "ok" });
    expect(Object.keys(duration.attributes).sort()).toEqual(["backend", "capability", "model", "outcome"]);
    expect(duration.value).toMatchObject({ count: 1 });
    // Not streamed: no first token to time.
    expect(await points("aoai.time_to_first_token")).toEqual([]);
    // The deployment's last remaining-quota reading, from the simulator's header.
    const quota = await pointOf("aoai.quota_remaining_tokens", { deployment: "gpt-4o-mini", backend: "eu" });
    expect(quota.value).toBeGreaterThan(0);

    const totals = usageSnapshot();
    expect(totals.currency).toBe("EUR");
    expect(totals.totals).toEqual([
      {
        caller: "team-a",
        model: "gpt-4o",
        requests: 1,
        failed: 0,
        tokens: { prompt: usage.prompt_tokens, completion: usage.completion_tokens, cached: 0, reasoning: 0 },
        cost,
        unpriced: 0,
        audioMinutes: 0,
        images: 0,
        characters: 0,
      },
    ]);
  });

  it("a streamed chat: time to first token within the duration, and the stream's usage", async () => {
    const request = chatRequest("Tell me a story", { stream: true, stream_options: { include_usage: true } });
    const { value: stream } = await router.run(router.route("chat", "gpt-4o"), { logger: quiet, caller: "team-s" }, (target) =>
      openChatStream({ client: target.client, logger: target.logger }, { ...request, deployment: target.backend.deployment }, signal),
    );
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage).toBeDefined();
    const dims = { capability: "chat", model: "gpt-4o", backend: "eu" };
    const first = (await pointOf("aoai.time_to_first_token", dims)).value as { count: number; sum: number };
    const total = (await pointOf("aoai.duration", { ...dims, outcome: "ok" })).value as { count: number; sum: number };
    expect(first.count).toBe(1);
    expect(first.sum).toBeGreaterThan(0);
    expect(first.sum).toBeLessThanOrEqual(total.sum);
    expect((await pointOf("aoai.tokens", { caller: "team-s", token_type: "completion" })).value).toBe(usage!.completion_tokens);
  });

  it("a 429 moves the call on: throttled and failover counted on the backend that throttled, the request on the one that answered", async () => {
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 429, times: 1 }]);
    const { backend } = await chat("team-b");
    expect(backend.name).toBe("us");
    expect(await points("aoai.failovers")).toEqual([
      { attributes: { capability: "chat", model: "gpt-4o", from_backend: "eu", reason: "throttled" }, value: 1 },
    ]);
    expect(await points("aoai.throttled")).toEqual([
      { attributes: { capability: "chat", model: "gpt-4o", backend: "eu", caller: "team-b" }, value: 1 },
    ]);
    expect((await pointOf("aoai.requests", { backend: "eu" })).attributes.outcome).toBe("throttled");
    expect((await pointOf("aoai.requests", { backend: "us" })).attributes.outcome).toBe("ok");
    expect(usageSnapshot().throttled).toEqual([{ caller: "team-b", count: 1 }]);
    expect(usageSnapshot().totals[0]).toMatchObject({ caller: "team-b", requests: 2, failed: 1 });
  });

  it("embeddings, responses, images, speech and transcription: each its capability, its usage and its cost", async () => {
    const run = <T>(
      capability: Parameters<Router["route"]>[0],
      model: string,
      call: (target: Parameters<Parameters<Router["run"]>[2]>[0]) => Promise<T>,
    ) => router.run(router.route(capability, model), { logger: quiet, caller: "app-1" }, call);

    const embeddingsRequest = parseEmbeddingsRequest({ model: "text-embedding-3-small", input: ["one", "two"] }, config);
    const { value: embedded } = await run("embeddings", "text-embedding-3-small", (t) =>
      createEmbeddings({ client: t.client, logger: t.logger }, { ...embeddingsRequest, deployment: t.backend.deployment }, signal),
    );
    const responsesRequest = parseResponsesRequest({ model: "gpt-4o", input: "Say hi" }, modelsFor(config.openai, "responses"));
    const { value: response } = await run("responses", "gpt-4o", (t) =>
      createResponse({ client: t.client, logger: t.logger }, { ...responsesRequest, deployment: t.backend.deployment }, signal),
    );
    const imagesRequest = parseImageGeneration(
      { model: "gpt-image-1", prompt: "a lighthouse", n: 2, size: "1024x1024" },
      modelsFor(config.openai, "images"),
    );
    await run("images", "gpt-image-1", (t) =>
      generateImages({ client: t.client, logger: t.logger }, { ...imagesRequest, deployment: t.backend.deployment }, signal),
    );
    const speechRequest = parseSpeechRequest(
      { model: "gpt-4o-mini-tts", input: "Hello there, operators.", voice: "alloy" },
      modelsFor(config.openai, "speech"),
    );
    const { value: spoken } = await run("speech", "gpt-4o-mini-tts", (t) =>
      openSpeech({ client: t.client, logger: t.logger }, { ...speechRequest, deployment: t.backend.deployment }, signal),
    );
    await new Response(spoken.body).arrayBuffer(); // the call is logged (and measured) when its audio has been passed on
    const audio = parseAudioRequest(
      { fields: new Map([["model", ["whisper"]]]), file: { bytes: sampleWav(3), fileName: "meeting.wav" } },
      "transcribe",
      modelsFor(config.openai, "transcription"),
    );
    const transcribed = await transcribeUpload({ router, logger: quiet, config, caller: "app-1" }, audio, signal);

    const ok = (capability: string, model: string, deployment: string) => ({
      capability,
      model,
      deployment,
      backend: "eu",
      caller: "app-1",
      outcome: "ok",
    });
    const requests = await points("aoai.requests");
    expect(requests.map((p) => p.attributes).sort((a, b) => String(a.capability).localeCompare(String(b.capability)))).toEqual([
      ok("embeddings", "text-embedding-3-small", "text-embedding-3-small"),
      ok("images", "gpt-image-1", "gpt-image-1"),
      ok("responses", "gpt-4o", "gpt-4o-mini"),
      ok("speech", "gpt-4o-mini-tts", "gpt-4o-mini-tts"),
      ok("transcription", "whisper", "whisper"),
    ]);
    expect((await pointOf("aoai.tokens", { capability: "embeddings", token_type: "prompt" })).value).toBe(embedded.usage.prompt_tokens);
    expect((await pointOf("aoai.tokens", { capability: "responses", token_type: "prompt" })).value).toBe(response.usage!.input_tokens);
    expect((await pointOf("aoai.tokens", { capability: "responses", token_type: "completion" })).value).toBe(response.usage!.output_tokens);

    const costOf = async (capability: string) => (await pointOf("aoai.cost", { capability })).value as number;
    expect(await costOf("embeddings")).toBeCloseTo((embedded.usage.prompt_tokens * 0.02) / 1_000_000, 12);
    expect(await costOf("images")).toBeCloseTo(2 * 0.04, 12);
    expect(await costOf("speech")).toBeCloseTo(("Hello there, operators.".length * 15) / 1_000_000, 12);
    // Whisper bills the audio's duration: 3 s of it.
    const minutes = (await pointOf("transcription.audio_minutes", { caller: "app-1" })).value as number;
    expect(minutes).toBeCloseTo(3 / 60, 6);
    expect(transcribed.chunks).toBe(1);
    expect(await costOf("transcription")).toBeCloseTo((3 / 60) * 0.006, 9);
    expect((await pointOf("transcription.audio_minutes", {})).attributes).toEqual({
      model: "whisper",
      deployment: "whisper",
      backend: "eu",
      caller: "app-1",
    });

    const byModel = Object.fromEntries(usageSnapshot().totals.map((t) => [t.model, t]));
    expect(byModel["gpt-image-1"]).toMatchObject({ caller: "app-1", images: 2, requests: 1 });
    expect(byModel.whisper!.audioMinutes).toBeCloseTo(3 / 60, 6);
    expect(byModel["gpt-4o-mini-tts"]).toMatchObject({ characters: "Hello there, operators.".length });
  });

  it("a model with no price: tokens counted, cost unknown rather than 0", async () => {
    usePrices({ currency: "USD", models: new Map() });
    await chat("team-c");
    expect(await points("aoai.cost")).toEqual([]);
    expect(usageSnapshot().totals[0]).toMatchObject({ caller: "team-c", cost: 0, unpriced: 1 });
  });

  it("tracks at most MAX_TRACKED_CALLERS caller names; calls of later names count together under one name", async () => {
    // Names a caller can choose (x-caller with keys off): as many as the process tracks, then more.
    const labels = { capability: "chat", model: "gpt-4o", deployment: "gpt-4o-mini", backend: "eu" } as const;
    for (let n = 0; n < MAX_TRACKED_CALLERS; n++) recordCall({ ...labels, caller: `caller-${n}` }, { outcome: "ok", durationInMs: 1 });
    await chat("one-too-many");
    await chat("and-another");
    await chat("caller-7"); // a name already tracked stays itself

    const totals = usageSnapshot().totals;
    expect(totals).toHaveLength(MAX_TRACKED_CALLERS + 1);
    expect(totals.find((t) => t.caller === "one-too-many" || t.caller === "and-another")).toBeUndefined();
    const other = totals.find((t) => t.caller === OTHER_CALLERS)!;
    expect(other.requests).toBe(2);
    expect(other.tokens.prompt).toBeGreaterThan(0);
    expect(totals.find((t) => t.caller === "caller-7")!.requests).toBe(2);

    const callers = new Set((await points("aoai.requests")).map((point) => point.attributes.caller));
    expect(callers.size).toBe(MAX_TRACKED_CALLERS + 1);
    expect((await pointOf("aoai.requests", { caller: OTHER_CALLERS })).value).toBe(2);
  });

  it("no metric carries a prompt, an API key or more than 10 dimensions", async () => {
    const marker = `MARKER-${randomUUID()}`;
    await chat("team-a", `${marker} my password is hunter2, key ${eu.apiKey}`);
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 429, times: 1 }]);
    await chat("team-a", marker);
    // A request Azure refuses (a 400 echoing the prompt) is measured too.
    await eu.control.setFaults("gpt-4o-mini", [{ kind: 400, times: 1 }]);
    await chat("team-a", marker).catch(() => undefined);

    const metrics = await collected();
    const names = metrics.map((m) => m.descriptor.name).sort();
    expect(names).toEqual(expect.arrayContaining(["aoai.requests", "aoai.tokens", "aoai.cost", "aoai.failovers", "aoai.throttled"]));
    const secrets = [marker, "hunter2", eu.apiKey, us.apiKey, eu.apiKey.slice(0, 12)];
    for (const metric of metrics) {
      for (const point of metric.dataPoints as DataPoint<unknown>[]) {
        expect(Object.keys(point.attributes).length, metric.descriptor.name).toBeLessThanOrEqual(10);
        for (const value of Object.values(point.attributes)) {
          for (const secret of secrets) expect(String(value), `${metric.descriptor.name}`).not.toContain(secret);
        }
      }
    }
    expect(JSON.stringify(usageSnapshot())).not.toContain(marker);
  });
});

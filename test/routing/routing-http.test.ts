/**
 * Routing as a caller sees it: the local host running the built app with a routing table over two
 * simulated Azure OpenAI resources, reached with the official `openai` client. The app reaches
 * both with its managed identity (one token provider, tokens from the one identity endpoint).
 */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CALLER_LIMITS_CONTAINER, blobName } from "../../src/caller-limits/blob-counter-store.js";
import type { SimulatorControl } from "../../tools/simulator/control-client.js";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;
let client: OpenAI;
let primary: SimulatorControl;
let secondary: SimulatorControl;
const hostLog: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    host: { onLog: (line) => hostLog.push(line) },
    simulator: { resources: [{ name: "secondary" }] },
    envFromSimulator: (sim) => ({
      // One limited caller, named by the `x-caller` header (keys off), counted in the shared blob
      // store so a test can read what it was charged.
      HTTP_AUTH_LEVEL: "anonymous",
      CALLER_TOKEN_LIMITS: JSON.stringify({ metered: { tokensPerDay: 1_000_000 } }),
      CALLER_LIMITS_STORE: "storage",
      AZURE_OPENAI_DEPLOYMENTS: JSON.stringify({
        // An alias on two resources: priority 0 on the primary, spillover on the secondary.
        "gpt-4o": [
          { name: "primary", deployment: "gpt-4o-mini", endpoint: sim.url, capabilities: ["chat", "responses"] },
          {
            name: "secondary",
            deployment: "gpt-4o-mini",
            endpoint: sim.resources[0]!.url,
            capabilities: ["chat", "responses"],
            priority: 1,
          },
        ],
        "text-embedding-3-small": [{ deployment: "text-embedding-3-small", capabilities: ["embeddings"] }],
        whisper: [{ deployment: "whisper", capabilities: ["transcription"] }],
      }),
    }),
  });
  client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
  primary = stack.simulator.control;
  secondary = stack.simulator.resources[0]!.control;
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(async () => {
  await Promise.all([primary.reset(), secondary.reset()]);
  // Cooldowns and circuits from an earlier test have passed by the time the next starts.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
});

type ApiError = InstanceType<typeof OpenAI.APIError>;

/** The error a call that must fail failed with. */
async function failure(call: Promise<unknown>): Promise<ApiError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (thrown: unknown) => thrown as ApiError,
  );
}

async function chatStatuses(control: SimulatorControl): Promise<number[]> {
  return (await control.journal()).filter((entry) => entry.operation === "chat/completions").map((entry) => entry.status);
}

async function streamedText(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  return text;
}

describe("routing through the app", () => {
  it("lists every model name, and says which backend answered", async () => {
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(["gpt-4o", "text-embedding-3-small", "whisper"]);
    const { data, response } = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "Hello" }], max_tokens: 5 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    expect(response.headers.get("x-backend")).toBe("primary");
    expect(await chatStatuses(primary)).toEqual([200]);
    // Both resources were reached with the app's managed identity: no key is configured.
    expect((await primary.journal())[0]?.auth).toBe("entra");
  });

  it("fails a stream over before its first byte: the caller sees one clean stream from the other backend", async () => {
    await primary.setFaults("gpt-4o-mini", [{ kind: "headers-only", times: 1 }]);
    const { data: stream, response } = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 12, stream: true })
      .withResponse();
    expect(response.headers.get("x-backend")).toBe("secondary");
    const text = await streamedText(stream);
    expect(text.length).toBeGreaterThan(0);
    expect(await chatStatuses(primary)).toEqual([200]); // accepted, then cut before any byte
    expect(await chatStatuses(secondary)).toEqual([200]);
    expect((await secondary.journal())[0]?.auth).toBe("entra");
    // Each attempt is logged with its backend.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hostLog.some((line) => line.includes("Routing chat for model gpt-4o: backend primary failed (transient"))).toBe(true);
    expect(hostLog.some((line) => /Azure OpenAI chat\.completions stream deployment=gpt-4o-mini .*backend=secondary/.test(line))).toBe(
      true,
    );
  });

  it("charges a limited caller only for the backend that answered when a stream fails over before its first event", async () => {
    await primary.setFaults("gpt-4o-mini", [{ kind: "headers-only", times: 1 }]);
    const metered = new OpenAI({
      baseURL: `${stack.host.url}/api/v1`,
      apiKey: "unused",
      maxRetries: 0,
      defaultHeaders: { "x-caller": "metered" },
    });
    const stream = await metered.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "Tell me a story" }],
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(await chatStatuses(primary)).toEqual([200]); // accepted, then cut before any event: Azure bills nothing
    expect(usage?.total_tokens).toBeGreaterThan(0);
    // The settlement is written after the answer ends; the primary's attempt adds neither its
    // estimate nor anything else, so the day's count is exactly the usage the caller was told.
    const counts = stack.blobService.getContainerClient(CALLER_LIMITS_CONTAINER).getBlockBlobClient(blobName("metered", Date.now()));
    const dayTokens = async () => (JSON.parse((await counts.downloadToBuffer()).toString("utf8")) as { dayTokens: number }).dayTokens;
    await expect.poll(dayTokens, { timeout: 3_000 }).toBe(usage!.prompt_tokens + usage!.completion_tokens);
  });

  it("fails a Responses stream over before its first event too", async () => {
    await primary.setFaults("gpt-4o-mini", [{ kind: 503, times: 1, ms: 50 }]);
    const stream = await client.responses.create({ model: "gpt-4o", input: "Hi", stream: true, max_output_tokens: 16 });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toMatch(/^response\.(completed|incomplete)$/);
    expect(types).not.toContain("error");
    const responsesTo = async (control: SimulatorControl) =>
      (await control.journal()).filter((entry) => entry.operation === "responses").map((entry) => entry.status);
    expect(await responsesTo(primary)).toEqual([503]);
    expect(await responsesTo(secondary)).toEqual([200]);
  });

  it("does not fail over once the caller has received a byte: the stream ends with an error", async () => {
    await primary.setFaults("gpt-4o-mini", [{ kind: "drop", afterTokens: 2, times: 1 }]);
    const stream = await client.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "Tell me a story" }],
      max_tokens: 20,
      stream: true,
    });
    await expect(streamedText(stream)).rejects.toThrow(/stream broke off before the answer was complete/);
    expect(await chatStatuses(secondary)).toEqual([]);
  });

  it("answers 429 with the soonest Retry-After only when every backend cools down", async () => {
    await primary.setFaults("gpt-4o-mini", [{ kind: 429, times: 1, ms: 4000 }]);
    await secondary.setFaults("gpt-4o-mini", [{ kind: 429, times: 1, ms: 2000 }]);
    const error = await failure(
      client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hi" }], max_tokens: 5 }),
    );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(error.headers?.get("retry-after-ms"))).toBeLessThanOrEqual(2000);
    expect(Number(error.headers?.get("retry-after-ms"))).toBeGreaterThan(1000);
    expect(error.headers?.get("retry-after")).toBe("2");
    expect(error.message).toMatch(/Every one of the 2 backends of model 'gpt-4o' is cooling down/);
    // One throttled: the other answers, transparently.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const { response } = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "Hi" }], max_tokens: 5 })
      .withResponse();
    expect(response.headers.get("x-backend")).toBe("secondary");
  });

  it("says how to turn on a capability no model of the table serves", async () => {
    const error = await failure(client.audio.speech.create({ model: "gpt-4o-mini-tts", voice: "alloy", input: "Hi" }));
    expect(error.status).toBe(404);
    expect(error.message).toMatch(
      /Text to speech is not available here: no model in AZURE_OPENAI_DEPLOYMENTS serves it \(asked for 'gpt-4o-mini-tts'\); add a backend with "capabilities": \["speech"\]/,
    );
  });

  it("refuses a model the table does not list, naming those it does", async () => {
    const error = await failure(client.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "Hi" }] }));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/The model 'gpt-5' is not available for chat completions; use 'gpt-4o'/);
  });
});

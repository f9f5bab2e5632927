import { APIError, InternalServerError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAULT_HEADER, type Simulator } from "../../tools/simulator/index.js";
import { STREAM_ERROR_MESSAGE } from "../../tools/simulator/pacing.js";
import { API_VERSION, azureClient, startFast, unexpected, v1Client } from "./helpers.js";

// The faults a router's stream failover meets: a stream that breaks before its first content
// chunk (headers-only, drop;after=0, stream-error;after=0), where a router may still try another
// backend, and one that breaks after some content (drop;after=N, stream-error;after=N), where it may not.
let sim: Simulator;
beforeAll(async () => {
  sim = await startFast({
    deployments: [
      { name: "chat", model: "gpt-4o-mini", capability: "chat" },
      { name: "instruct", model: "gpt-35-turbo-instruct", capability: "completions" },
      { name: "embed", model: "text-embedding-3-small", capability: "embeddings" },
    ],
  });
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

const messages = [{ role: "user" as const, content: "Hi" }];
const fault = (value: string) => ({ headers: { [FAULT_HEADER]: value } });

function rawChat(body: unknown, faultValue: string): Promise<Response> {
  return fetch(`${sim.url}/openai/deployments/chat/chat/completions?api-version=${API_VERSION}`, {
    method: "POST",
    headers: { "api-key": sim.apiKey, "content-type": "application/json", [FAULT_HEADER]: faultValue },
    body: JSON.stringify(body),
  });
}

/** Reads a chat stream with the official client: the chunks it yielded, how many carried content, and what it threw. */
async function readChatStream(faultValue?: string): Promise<{ chunks: number; contents: number; error: unknown }> {
  const stream = await azureClient(sim, { maxRetries: 0 }).chat.completions.create(
    { model: "chat", messages, stream: true, max_tokens: 30 },
    faultValue === undefined ? {} : fault(faultValue),
  );
  let chunks = 0;
  let contents = 0;
  try {
    for await (const chunk of stream) {
      chunks++;
      if (chunk.choices[0]?.delta?.content) contents++;
    }
    return { chunks, contents, error: undefined };
  } catch (error) {
    return { chunks, contents, error };
  }
}

describe("headers-only: 200 and headers, then the connection is cut before any byte of the body", () => {
  it("a stream: the client gets its 200 and the headers, then fails before the first chunk", async () => {
    const res = await rawChat({ messages, stream: true }, "headers-only");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("x-ratelimit-remaining-requests")).not.toBeNull();
    await expect(res.text()).rejects.toThrow();

    const read = await readChatStream("headers-only");
    expect(read).toMatchObject({ chunks: 0, contents: 0 });
    expect(read.error).toBeInstanceOf(Error);
    const journal = await sim.control.journal();
    expect(journal.map((entry) => [entry.status, entry.stream, entry.faults, entry.aborted])).toEqual([
      [200, true, ["headers-only"], undefined],
      [200, true, ["headers-only"], undefined],
    ]);
    // Cut by the simulator on purpose: not the client's abort.
    expect((await sim.control.counters()).deployments.chat).toMatchObject({ streams: 2, abortedStreams: 0, faults: 2 });
  });

  it("a non-streamed answer: 200, then no body", async () => {
    const res = await fetch(`${sim.url}/openai/deployments/embed/embeddings?api-version=${API_VERSION}`, {
      method: "POST",
      headers: { "api-key": sim.apiKey, "content-type": "application/json", [FAULT_HEADER]: "headers-only" },
      body: JSON.stringify({ input: "x" }),
    });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    const error = await azureClient(sim, { maxRetries: 0 })
      .embeddings.create({ model: "embed", input: "x" }, fault("headers-only"))
      .then(unexpected, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
  });

  it("by rule, so only the first attempt meets it", async () => {
    await sim.control.setFaults("chat", [{ kind: "headers-only", times: 1 }]);
    const first = await readChatStream();
    expect(first.chunks).toBe(0);
    const second = await readChatStream();
    expect(second.error).toBeUndefined();
    expect(second.contents).toBeGreaterThan(0);
  });
});

describe("drop;after=0: the stream's preamble, then the cut before the first content chunk", () => {
  it("the prompt filter and role chunks arrive, no content, then the connection fails", async () => {
    const read = await readChatStream("drop;after=0");
    // The prompt-filter chunk and the role chunk.
    expect(read.chunks).toBe(2);
    expect(read.contents).toBe(0);
    expect(read.error).toBeInstanceOf(Error);
    expect(read.error).not.toBeInstanceOf(APIError);
  });
});

describe("stream-error: an error event in the stream, then the end, without [DONE]", () => {
  it("after=0 (the default): before the first content chunk; the client throws the error", async () => {
    const read = await readChatStream("stream-error");
    expect(read.contents).toBe(0);
    expect(read.error).toBeInstanceOf(APIError);
    expect((read.error as APIError).message).toContain(STREAM_ERROR_MESSAGE);
    expect((read.error as APIError).type).toBe("server_error");
  });

  it("after=3: three content chunks first; the answer is complete on the wire, only the model failed", async () => {
    const read = await readChatStream("stream-error;after=3");
    expect(read.contents).toBe(3);
    expect(read.error).toBeInstanceOf(APIError);
    const res = await rawChat({ messages, stream: true, max_tokens: 30 }, "stream-error;after=3");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("[DONE]");
    expect(text.trimEnd().split("\n\n").at(-1)).toBe(
      `data: ${JSON.stringify({ error: { message: STREAM_ERROR_MESSAGE, type: "server_error", param: null, code: null } })}`,
    );
    const [, entry] = await sim.control.journal();
    expect(entry).toMatchObject({ status: 200, stream: true, faults: ["stream-error"], usage: { completion_tokens: 3 } });
    expect(entry!.aborted).toBeUndefined();
  });

  it("a Responses stream ends with the Responses API's error event, not response.completed", async () => {
    const stream = await v1Client(sim, { maxRetries: 0 }).responses.create(
      { model: "chat", input: "Hi", stream: true },
      fault("stream-error;after=2"),
    );
    const types: string[] = [];
    let last: unknown;
    for await (const event of stream) {
      types.push(event.type);
      last = event;
    }
    expect(types.filter((type) => type === "response.output_text.delta")).toHaveLength(2);
    expect(types).not.toContain("response.completed");
    expect(last).toMatchObject({ type: "error", code: "server_error", message: STREAM_ERROR_MESSAGE, param: null });
  });

  it("a completions stream throws it too", async () => {
    const stream = await azureClient(sim, { maxRetries: 0 }).completions.create(
      { model: "instruct", prompt: "Say", stream: true, max_tokens: 20 },
      fault("stream-error;after=1"),
    );
    let texts = 0;
    const error = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.text) texts++;
    })().then(unexpected, (e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(texts).toBe(1);
  });

  it("on an answer that is no stream, it fails as the model would: a 500", async () => {
    const error = await azureClient(sim, { maxRetries: 0 })
      .chat.completions.create({ model: "chat", messages }, fault("stream-error"))
      .then(unexpected, (e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((await sim.control.journal())[0]).toMatchObject({ status: 500, faults: ["stream-error"] });
  });
});

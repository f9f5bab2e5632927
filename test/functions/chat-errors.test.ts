/**
 * Every error mapping of the HTTP surface, end to end: the local host runs the built app against the
 * simulator, faults are injected in the simulator, and the official `openai` client must raise the
 * matching typed error with OpenAI's `{"error": {message, type, param, code}}` body.
 */
import { createParser } from "eventsource-parser";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Stack } from "../support/stack.js";
import { FUNCTION_KEY, startKeyedStack } from "./keyed-stack.js";

const KEY = FUNCTION_KEY;
const DEPLOYMENT = "gpt-4o-mini";
const USER = [{ role: "user" as const, content: "Hello there" }];

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  ({ stack, client } = await startKeyedStack());
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(async () => {
  await stack.simulator.control.reset();
});

function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.host.url}/api/v1/${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-functions-key": KEY, ...headers },
  });
}

/** The data of every SSE event in the response, read to its end. */
async function sseData(response: Response): Promise<string[]> {
  const events: string[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e.data) });
  const decoder = new TextDecoder();
  for await (const bytes of response.body!) parser.feed(decoder.decode(bytes, { stream: true }));
  return events;
}

/** The error the openai client raised, which must be an APIError. */
async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.APIError);
  return error as InstanceType<typeof OpenAI.APIError>;
}

describe("bad input -> 400/413 in OpenAI's shape, never reaching Azure", () => {
  it.each([
    ["body not JSON", '{"messages": [', 400, "invalid_json", null, "not valid JSON"],
    ["body a JSON array", "[]", 400, "invalid_json", null, "must be a JSON object"],
    ["missing messages", "{}", 400, "missing_required_parameter", "messages", "'messages' is required"],
    ["wrong type", JSON.stringify({ messages: USER, max_tokens: "ten" }), 400, "invalid_type", "max_tokens", "must be a number"],
    [
      "unknown role",
      JSON.stringify({ messages: [{ role: "robot", content: "hi" }] }),
      400,
      "invalid_value",
      "messages[0].role",
      "must be one of",
    ],
    ["unknown model", JSON.stringify({ model: "gpt-9", messages: USER }), 400, "model_not_found", "model", "GET /api/v1/models"],
  ])("%s", async (_name, body, status, code, param, message) => {
    const response = await post("chat/completions", body);
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    const { error } = (await response.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({ type: "invalid_request_error", code, param });
    expect(error.message).toContain(message);
    const counters = await stack.simulator.control.counters();
    expect(counters.total.requests).toBe(0);
  });

  describe("JSON nested past the one nesting limit -> 400 naming the limit, never a 500", () => {
    // About 4,140 levels in 8 KB used to reach JSON.stringify in the openai client and overflow the
    // stack. The bodies are written as text: stringifying them would overflow here too.
    const arrays = (levels: number): string => "[".repeat(levels) + "]".repeat(levels);
    const objects = (levels: number): string => '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
    const messages = JSON.stringify(USER);
    it.each([
      ["an extra field", `{"messages":${messages},"x":${arrays(4140)}}`, "chat/completions", "x"],
      ["an extra field, streamed", `{"messages":${messages},"stream":true,"x":${arrays(4140)}}`, "chat/completions", "x"],
      [
        "a tool's parameters",
        `{"messages":${messages},"tools":[{"type":"function","function":{"name":"f","parameters":${objects(4000)}}}]}`,
        "chat/completions",
        "tools",
      ],
      ["metadata", `{"messages":${messages},"metadata":${objects(3000)}}`, "chat/completions", "metadata"],
      [
        "a content part",
        `{"messages":[{"role":"user","content":[{"type":"text","text":"hi","extra":${arrays(3000)}}]}]}`,
        "chat/completions",
        "messages",
      ],
      ["an embeddings request", `{"model":"text-embedding-3-small","input":"hi","extra":${arrays(5000)}}`, "embeddings", "extra"],
    ])("%s", async (_name, body, route, param) => {
      expect(body.length).toBeLessThan(40_000);
      const response = await post(route, body);
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: Record<string, unknown> };
      expect(error).toMatchObject({ type: "invalid_request_error", code: "json_too_deep", param });
      expect(error.message).toContain("more than 64 levels deep");
      expect((await stack.simulator.control.counters()).total.requests).toBe(0);
    });

    it("a request nested well within the limit still works", async () => {
      const schema = JSON.parse(objects(20)) as Record<string, unknown>;
      const response = await post(
        "chat/completions",
        JSON.stringify({
          messages: USER,
          metadata: { note: "ok" },
          tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { deep: schema } } } }],
        }),
      );
      expect(response.status).toBe(200);
    });
  });

  it("a body over HTTP_MAX_REQUEST_BYTES -> 413", async () => {
    const big = JSON.stringify({ messages: [{ role: "user", content: "x".repeat(70_000) }] });
    const response = await post("chat/completions", big);
    expect(response.status).toBe(413);
    const { error } = (await response.json()) as { error: Record<string, unknown> };
    expect(error.code).toBe("request_too_large");
    expect(error.message).toContain("65536");
  });

  it("a chunked body (no content-length) over HTTP_MAX_REQUEST_BYTES -> 413 too", async () => {
    const big = new TextEncoder().encode(JSON.stringify({ messages: [{ role: "user", content: "x".repeat(200_000) }] }));
    const chunks = async function* () {
      for (let offset = 0; offset < big.length; offset += 16 * 1024) yield big.subarray(offset, offset + 16 * 1024);
    };
    const response = await fetch(`${stack.host.url}/api/v1/chat/completions`, {
      method: "POST",
      body: ReadableStream.from(chunks()),
      duplex: "half",
      headers: { "content-type": "application/json", "x-functions-key": KEY },
    } as RequestInit);
    expect(response.status).toBe(413);
    const { error } = (await response.json()) as { error: Record<string, unknown> };
    expect(error.code).toBe("request_too_large");
  });

  it("the openai client gets BadRequestError with the param named", async () => {
    const error = await apiError(
      client.chat.completions.create({ model: DEPLOYMENT, messages: [{ role: "user", content: 42 as unknown as string }] }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe("messages[0].content");
  });
});

describe("upstream failures", () => {
  it("429 -> 429 with Retry-After, and the openai client's RateLimitError", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: 429, times: 1, ms: 1500 }]);
    const error = await apiError(client.chat.completions.create({ model: DEPLOYMENT, messages: USER }));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.status).toBe(429);
    expect(error.headers?.get("retry-after")).toBe("2");
    expect(error.headers?.get("retry-after-ms")).toBe("1500");
    expect(error.code).toBe("rate_limit_exceeded");
  });

  it("429 on a streamed request is still a 429 (Azure refused before the stream started)", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: 429, times: 1, ms: 800 }]);
    const response = await post("chat/completions", JSON.stringify({ messages: USER, stream: true }));
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("1");
  });

  it("content_filter -> 400 carrying the filter results", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: "content-filter", times: 1 }]);
    const error = await apiError(client.chat.completions.create({ model: DEPLOYMENT, messages: USER }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe("content_filter");
    const body = error.error as { innererror?: { content_filter_result?: unknown } };
    expect(body.innererror?.content_filter_result).toBeDefined();
  });

  it.each([401, 403])("%i -> 502 pointing at the missing role assignment", async (status) => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: status, times: 1 }]);
    const error = await apiError(client.chat.completions.create({ model: DEPLOYMENT, messages: USER }));
    expect(error.status).toBe(502);
    expect(error.message).toContain("Cognitive Services OpenAI User");
    expect(error.message).not.toMatch(/eyJ|Bearer/);
  });

  it("500 -> 502, which the caller's client may retry", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: 500, times: 1 }]);
    const error = await apiError(client.chat.completions.create({ model: DEPLOYMENT, messages: USER }));
    expect(error.status).toBe(502);
    expect((error.error as { type?: string }).type).toBe("upstream_error");
  });

  it("a non-streamed answer whose connection breaks mid-body -> 502, retryable, and the official client's retry then succeeds", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: "drop", times: 1 }]);
    const error = await apiError(client.chat.completions.create({ model: DEPLOYMENT, messages: USER }, { maxRetries: 0 }));
    expect(error.status).toBe(502);
    expect(error.code).toBe("connection_lost");
    expect(error.message).toContain("broke off in the middle of its answer");
    expect(error.message).not.toContain("failed unexpectedly");
    // OpenAI's clients retry a 502 on their own (this suite's client is set to 0 retries): the caller sees the answer.
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: "drop", times: 1 }]);
    const completion = await client.chat.completions.create({ model: DEPLOYMENT, messages: USER }, { maxRetries: 2 });
    expect(completion.choices[0]?.message.content).toBeTruthy();
  });

  it("the embeddings endpoint classifies the same break the same way", async () => {
    await stack.simulator.control.setFaults("text-embedding-3-small", [{ kind: "drop", times: 1 }]);
    const error = await apiError(client.embeddings.create({ model: "text-embedding-3-small", input: "hello" }, { maxRetries: 0 }));
    expect(error.status).toBe(502);
    expect(error.code).toBe("connection_lost");
  });

  it("a stream that breaks midway ends with one OpenAI error event, which the client raises", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: "drop", times: 1, afterTokens: 3 }]);
    const stream = await client.chat.completions.create({ model: DEPLOYMENT, messages: USER, max_tokens: 50, stream: true });
    const received: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(received.join("").length).toBeGreaterThan(0);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("stream broke off");
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("stream_interrupted");
  });

  it("a stream that stalls mid-answer ends with an error event after HTTP_STREAM_IDLE_TIMEOUT_MS, not whenever Azure's front end gives up", async () => {
    // A token every 10 s: the answer starts, then goes quiet for longer than the 2 s idle limit.
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 20, tokensPerSecond: 0.1, stdDevRatio: 0 });
    const started = performance.now();
    const response = await post("chat/completions", JSON.stringify({ messages: USER, max_tokens: 50, stream: true }));
    expect(response.status).toBe(200);
    const events = await sseData(response);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThan(1900);
    expect(elapsed).toBeLessThan(8000);
    expect(events).not.toContain("[DONE]");
    expect(events.slice(0, -1).length).toBeGreaterThan(0);
    const last = JSON.parse(events.at(-1)!) as { error: Record<string, unknown> };
    expect(last.error).toMatchObject({ type: "upstream_error", code: "stream_idle_timeout" });
    expect(String(last.error.message)).toContain("HTTP_STREAM_IDLE_TIMEOUT_MS");
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 0, tokensPerSecond: 0 });
  });

  it("on the wire: the error event is last and there is no data: [DONE]", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: "drop", times: 1, afterTokens: 2 }]);
    const response = await post("chat/completions", JSON.stringify({ messages: USER, max_tokens: 50, stream: true }));
    expect(response.status).toBe(200);
    const events = await sseData(response);
    expect(events).not.toContain("[DONE]");
    const last = JSON.parse(events.at(-1)!) as { error: Record<string, unknown> };
    expect(last.error).toMatchObject({ type: "upstream_error", code: "stream_interrupted", param: null });
    expect(events.slice(0, -1).every((e) => "choices" in JSON.parse(e))).toBe(true);
  });

  it("finish_reason content_filter mid-stream passes through as OpenAI sends it", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: "finish-content-filter", times: 1, afterTokens: 2 }]);
    const stream = await client.chat.completions.create({ model: DEPLOYMENT, messages: USER, max_tokens: 50, stream: true });
    const reasons: (string | null)[] = [];
    for await (const chunk of stream) reasons.push(chunk.choices[0]?.finish_reason ?? null);
    expect(reasons.at(-1)).toBe("content_filter");
  });
});

describe("caller disconnects", () => {
  it("aborting a stream aborts the upstream request at once (the simulator counts it)", async () => {
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 10, tokensPerSecond: 20, stdDevRatio: 0 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: DEPLOYMENT, messages: USER, max_tokens: 400, stream: true },
      { signal: controller.signal },
    );
    let seen = 0;
    for await (const _chunk of stream) {
      if (++seen === 3) break; // breaking out aborts the HTTP request, as a closed browser tab would
    }
    const deadline = Date.now() + 2000;
    let counters = await stack.simulator.control.counters();
    while (counters.deployments[DEPLOYMENT]!.abortedStreams < 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      counters = await stack.simulator.control.counters();
    }
    expect(counters.deployments[DEPLOYMENT]!.abortedStreams).toBe(1);
    // 400 tokens at 20/s would take 20 s; the abort must land long before that.
    const [entry] = await stack.simulator.control.journal({ deployment: DEPLOYMENT, limit: 1 });
    expect(entry!.aborted).toBe(true);
  });

  it("aborting a non-streamed completion closes the upstream request too", async () => {
    // 200 tokens at 20/s: the simulator needs 10 s for the whole answer.
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 10, tokensPerSecond: 20, stdDevRatio: 0 });
    const controller = new AbortController();
    const request = client.chat.completions
      .create({ model: DEPLOYMENT, messages: USER, max_tokens: 200 }, { signal: controller.signal })
      .catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 500));
    controller.abort();
    expect(await request).toBeInstanceOf(OpenAI.APIUserAbortError);
    const entries = await closedUpstreamRequests();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.durationMs).toBeLessThan(1500);
    expect(entries[0]!.status).toBe(0); // the simulator never answered: the app closed the request
  });

  it("aborting while waiting for the first token closes the upstream request too", async () => {
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 3000, stdDevRatio: 0 });
    const controller = new AbortController();
    const request = fetch(`${stack.host.url}/api/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ messages: USER, stream: true }),
      headers: { "content-type": "application/json", "x-functions-key": KEY },
      signal: controller.signal,
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    await request;
    const entries = await closedUpstreamRequests();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.durationMs).toBeLessThan(1500);
    expect(entries[0]!.status).toBe(0); // no answer was ever sent: nothing was generated
  });

  it("a caller who leaves after the early 200 and keep-alive (Azure still silent) closes the upstream request too", async () => {
    // Past the commit deadline (1 s) the caller already has its 200 and a keep-alive comment.
    await stack.simulator.control.setLatency(DEPLOYMENT, { timeToFirstTokenMs: 4000, stdDevRatio: 0 });
    const controller = new AbortController();
    const response = await fetch(`${stack.host.url}/api/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ messages: USER, stream: true }),
      headers: { "content-type": "application/json", "x-functions-key": KEY },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe(": keep-alive\n\n");
    controller.abort();
    const entries = await closedUpstreamRequests();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.durationMs).toBeLessThan(3000); // closed well before the first token at 4 s
    expect(entries[0]!.status).toBe(0);
  });
});

/**
 * The simulator's journal for the deployment once it holds an entry (it journals a request when
 * its connection closes), waiting up to 2 s.
 */
async function closedUpstreamRequests() {
  const deadline = Date.now() + 2000;
  let entries = await stack.simulator.control.journal({ deployment: DEPLOYMENT });
  while (entries.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    entries = await stack.simulator.control.journal({ deployment: DEPLOYMENT });
  }
  return entries;
}

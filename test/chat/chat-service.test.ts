/**
 * The chat service against a real HTTP server speaking Azure's streaming format, through the real
 * `openai` client: cases the simulator has no fault for (an error event inside the stream).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { request as undiciRequest } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { openChatStream } from "../../src/chat/chat-service.js";
import { AppError } from "../../src/errors.js";
import { describeError } from "../../src/http/error-response.js";
import { createSseStream } from "../../src/http/sse.js";
import { createStreamTransport } from "../../src/openai/stream-transport.js";

let server: http.Server | undefined;

afterEach(async () => {
  const closing = server;
  server = undefined;
  if (!closing) return;
  closing.closeAllConnections();
  await new Promise((resolve) => closing.close(resolve));
});

/** A server that answers every request with these SSE lines, then ends. */
async function azureLike(lines: string[]): Promise<OpenAI> {
  server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "apim-request-id": "req-1" });
    for (const line of lines) res.write(`${line}\n\n`);
    res.end();
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/openai/v1/`, apiKey: "k", maxRetries: 0 });
}

const request = {
  deployment: "gpt-4o-mini",
  stream: true,
  includeUsage: false,
  body: { messages: [{ role: "user" as const, content: "Hi" }] },
};
const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}`;

describe("openChatStream", () => {
  it("turns an error event inside Azure's stream into a classified error carrying Azure's message and code", async () => {
    const client = await azureLike([
      chunk("Hel"),
      `data: ${JSON.stringify({ error: { message: "The server had an error while processing your request.", code: "server_error" } })}`,
    ]);
    const logs: string[] = [];
    const logger = { info: (m: unknown) => logs.push(String(m)), warn: () => undefined, error: () => undefined };
    const stream = await openChatStream({ client, logger }, request, new AbortController().signal);
    const received: string[] = [];
    const error = await (async () => {
      for await (const c of stream) received.push(c.choices[0]!.delta.content ?? "");
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(received).toEqual(["Hel"]);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("server_error");
    expect(describeError(error).body.error.message).toContain("The server had an error while processing your request.");
    // The call is logged once, with Azure's request id.
    expect(logs.filter((l) => l.includes("requestId=req-1"))).toHaveLength(1);
  });

  it("yields OpenAI-shaped chunks and ends normally at [DONE]", async () => {
    const client = await azureLike([chunk("a"), chunk("b"), "data: [DONE]"]);
    const stream = await openChatStream({ client, logger: { info() {}, warn() {}, error() {} } }, request, new AbortController().signal);
    const received: string[] = [];
    for await (const c of stream) received.push(c.choices[0]!.delta.content ?? "");
    expect(received).toEqual(["a", "b"]);
  });
});

describe("openChatStream through the app's transport (undici's request API, src/openai/stream-transport.ts)", () => {
  /** A server that writes these SSE lines; `end: false` leaves the response open (or `breakOff` destroys it). */
  async function azureServer(lines: string[], options: { end?: boolean; breakOff?: boolean } = {}) {
    let closed!: Promise<void>;
    server = http.createServer((_req, res) => {
      closed = new Promise((resolve) => res.once("close", () => resolve()));
      res.writeHead(200, { "content-type": "text/event-stream", "apim-request-id": "req-2" });
      for (const line of lines) res.write(`${line}\n\n`);
      if (options.breakOff) setTimeout(() => res.destroy(), 20);
      else if (options.end !== false) res.end();
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const client = new OpenAI({
      baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/openai/v1/`,
      apiKey: "k",
      maxRetries: 0,
      fetch: createStreamTransport(undiciRequest, fetch),
    });
    return { client, closed: () => closed };
  }
  const withUsageNull = (content: string) => `${chunk(content).slice(0, -1)},"usage":null}`;

  it("sends unchanged chunks as Azure's text, without Azure's trailing usage:null when the caller did not ask for usage, and logs the usage once", async () => {
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const annotation = `data: ${JSON.stringify({ id: "", object: "", created: 0, model: "", choices: [], prompt_filter_results: [{ prompt_index: 0 }] })}`;
    const { client } = await azureServer([
      annotation,
      withUsageNull("a"),
      withUsageNull("b"),
      `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [], usage })}`,
      "data: [DONE]",
    ]);
    const logs: string[] = [];
    const logger = { info: (m: unknown) => logs.push(String(m)), warn: () => undefined, error: () => undefined };
    const events = await openChatStream({ client, logger }, request, new AbortController().signal);
    let text = "";
    for await (const bytes of createSseStream({ events, keepAliveInMs: 0, describeError: () => ({ error: "unexpected" }) })) {
      text += new TextDecoder().decode(bytes);
    }
    // The annotation's results move onto the first chunk (a changed chunk, serialised again); the
    // second is Azure's text minus the usage member; the usage chunk is not sent.
    const sent = text.split("\n\n").filter(Boolean);
    expect(sent).toHaveLength(3);
    expect(JSON.parse(sent[0]!.slice(6))).toMatchObject({
      prompt_filter_results: [{ prompt_index: 0 }],
      choices: [{ delta: { content: "a" } }],
    });
    expect(sent[0]).not.toContain("usage");
    expect(sent[1]).toBe(chunk("b"));
    expect(sent[2]).toBe("data: [DONE]");
    expect(logs.filter((l) => l.includes("promptTokens=3 completionTokens=2") && l.includes("requestId=req-2"))).toHaveLength(1);
  });

  it("turns a connection that breaks midway into stream_interrupted, after the chunks before it", async () => {
    const { client } = await azureServer([chunk("a")], { breakOff: true });
    const stream = await openChatStream({ client, logger: { info() {}, warn() {}, error() {} } }, request, new AbortController().signal);
    const received: string[] = [];
    const error = await (async () => {
      for await (const c of stream) received.push(c.choices[0]!.delta.content ?? "");
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(received).toEqual(["a"]);
    expect((error as AppError).code).toBe("stream_interrupted");
  });

  it("ends quietly when the caller aborts midway, closes the upstream connection and logs the call as disconnected", async () => {
    const { client, closed } = await azureServer([chunk("a"), chunk("b")], { end: false });
    const abort = new AbortController();
    const logs: string[] = [];
    const logger = { info: (m: unknown) => logs.push(String(m)), warn: () => undefined, error: () => undefined };
    const stream = await openChatStream({ client, logger }, request, abort.signal);
    const received: string[] = [];
    for await (const c of stream) {
      received.push(c.choices[0]!.delta.content ?? "");
      if (received.length === 2) abort.abort();
    }
    expect(received).toEqual(["a", "b"]);
    await closed();
    expect(logs.filter((l) => l.includes("(caller disconnected)"))).toHaveLength(1);
  });

  it("ends with stream_idle_timeout when Azure goes silent midway, and closes the upstream connection", async () => {
    const { client, closed } = await azureServer([chunk("a")], { end: false });
    const stream = await openChatStream(
      { client, logger: { info() {}, warn() {}, error() {} }, streamIdleTimeoutInMs: 50 },
      request,
      new AbortController().signal,
    );
    const error = await (async () => {
      for await (const _ of stream) void _;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as AppError).code).toBe("stream_idle_timeout");
    await closed();
  });

  it("a consumer that stops early releases the upstream connection and the call is logged once", async () => {
    const { client, closed } = await azureServer([chunk("a"), chunk("b")], { end: false });
    const logs: string[] = [];
    const logger = { info: (m: unknown) => logs.push(String(m)), warn: () => undefined, error: () => undefined };
    const stream = await openChatStream({ client, logger }, request, new AbortController().signal);
    for await (const _ of stream) break;
    await closed();
    expect(logs.filter((l) => l.includes("requestId=req-2"))).toHaveLength(1);
  });
});

/**
 * The client's transport for streamed answers (src/openai/stream-transport.ts) against a real
 * HTTP server, through the real `openai` client: marked calls go through undici's request API and
 * leave their body as a Node stream; refusals still become the client's APIError; everything else
 * is the fallback fetch's.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI, { APIError } from "openai";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { nodeBodyOf, STREAM_BODY_AS_NODE_STREAM } from "../../src/openai/stream-body.js";
import { createStreamTransport } from "../../src/openai/stream-transport.js";

let server: http.Server | undefined;

afterEach(async () => {
  const closing = server;
  server = undefined;
  if (!closing) return;
  closing.closeAllConnections();
  await new Promise((resolve) => closing.close(resolve));
});

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: string;
  closed: Promise<void>;
}

/** A server answering with `answer`; records what each request carried and when its connection closed. */
async function serve(answer: (res: http.ServerResponse) => void): Promise<{ baseURL: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (piece: string) => (body += piece));
    req.on("end", () => {
      seen.push({ headers: req.headers, body, closed: new Promise((resolve) => res.once("close", () => resolve())) });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/openai/v1/`, seen };
}

const params = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Hi" }], stream: true as const };

function clientFor(baseURL: string, fallbackCalls: string[] = []): OpenAI {
  const fallback: typeof fetch = (input, init) => {
    fallbackCalls.push(String(input));
    return fetch(input, init);
  };
  return new OpenAI({ baseURL, apiKey: "secret-key", maxRetries: 0, fetch: createStreamTransport(request, fallback) });
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<string> {
  let text = "";
  for await (const piece of stream) text += piece.toString("utf8");
  return text;
}

describe("createStreamTransport", () => {
  it("sends a marked call through undici with the client's URL, headers and body, and leaves the 2xx body as a Node stream", async () => {
    const { baseURL, seen } = await serve((res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "apim-request-id": "req-7" });
      res.end("data: [DONE]\n\n");
    });
    const fallbackCalls: string[] = [];
    const response = await clientFor(baseURL, fallbackCalls)
      .chat.completions.create(params, { fetchOptions: STREAM_BODY_AS_NODE_STREAM })
      .asResponse();
    expect(fallbackCalls).toEqual([]);
    expect(response.status).toBe(200);
    expect(response.headers.get("apim-request-id")).toBe("req-7");
    const body = nodeBodyOf(response);
    expect(body).toBeDefined();
    expect(await readAll(body as AsyncIterable<Buffer>)).toBe("data: [DONE]\n\n");
    expect(seen[0]!.headers.authorization).toBe("Bearer secret-key");
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ model: "gpt-4o-mini", stream: true });
  });

  it("answers a refusal with a readable body, so the client throws its APIError with Azure's status and message", async () => {
    const { baseURL } = await serve((res) => {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "3" });
      res.end(JSON.stringify({ error: { message: "Rate limit reached", code: "429" } }));
    });
    const error = await clientFor(baseURL)
      .chat.completions.create(params, { fetchOptions: STREAM_BODY_AS_NODE_STREAM })
      .asResponse()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(429);
    expect((error as APIError).message).toContain("Rate limit reached");
    expect((error as APIError).headers?.get("retry-after")).toBe("3");
  });

  it("leaves calls without the mark to the fallback fetch", async () => {
    const { baseURL } = await serve((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end("data: [DONE]\n\n");
    });
    const fallbackCalls: string[] = [];
    const response = await clientFor(baseURL, fallbackCalls).chat.completions.create(params).asResponse();
    expect(fallbackCalls).toHaveLength(1);
    expect(nodeBodyOf(response)).toBeUndefined();
    expect(await response.text()).toBe("data: [DONE]\n\n");
  });

  it("aborting the caller's signal after the headers ends the body and closes the upstream connection", async () => {
    const { baseURL, seen } = await serve((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: {}\n\n"); // and never ends
    });
    const abort = new AbortController();
    const response = await clientFor(baseURL)
      .chat.completions.create(params, { signal: abort.signal, fetchOptions: STREAM_BODY_AS_NODE_STREAM })
      .asResponse();
    const reading = readAll(nodeBodyOf(response) as AsyncIterable<Buffer>);
    abort.abort();
    await expect(reading).rejects.toThrow();
    await seen[0]!.closed;
  });

  it("reports a server that cannot be reached as the client's connection error", async () => {
    const { baseURL } = await serve(() => undefined);
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const error = await clientFor(baseURL)
      .chat.completions.create(params, { fetchOptions: STREAM_BODY_AS_NODE_STREAM })
      .asResponse()
      .catch((e: unknown) => e);
    expect((error as Error).constructor.name).toBe("APIConnectionError");
  });
});

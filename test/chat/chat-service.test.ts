/**
 * The chat service against a real HTTP server speaking Azure's streaming format, through the real
 * `openai` client: cases the simulator has no fault for (an error event inside the stream).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { openChatStream } from "../../src/chat/chat-service.js";
import { AppError } from "../../src/errors.js";
import { describeError } from "../../src/http/error-response.js";

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

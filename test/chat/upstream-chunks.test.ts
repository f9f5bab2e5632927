import { describe, expect, it } from "vitest";
import { readChatChunks } from "../../src/chat/upstream-chunks.js";
import { AppError } from "../../src/errors.js";

const encoder = new TextEncoder();
const chunk = (content: string) => ({
  id: "c1",
  object: "chat.completion.chunk",
  created: 1,
  model: "m",
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});
const event = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;

/** A response whose body arrives in exactly these pieces; `cancelled` records a cancel. */
function responseOf(pieces: Array<string | Uint8Array>): { response: Response; cancelled: () => boolean } {
  let cancelled = false;
  let index = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pieces[index++];
      if (piece !== undefined) controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : piece);
      else controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { response: new Response(body, { headers: { "content-type": "text/event-stream" } }), cancelled: () => cancelled };
}

async function contents(response: Response, signal = new AbortController().signal): Promise<string[]> {
  const out: string[] = [];
  for await (const c of readChatChunks(response, signal)) out.push(c.choices[0]?.delta.content ?? "");
  return out;
}

describe("readChatChunks", () => {
  it("yields every chunk, whether reads split an event or hold several, and stops at [DONE]", async () => {
    const all = event(chunk("He")) + event(chunk("llo")) + event(chunk("!")) + "data: [DONE]\n\n";
    const split = [all.slice(0, 7), all.slice(7, 60), all.slice(60)];
    expect(await contents(responseOf(split).response)).toEqual(["He", "llo", "!"]);
    expect(await contents(responseOf([all]).response)).toEqual(["He", "llo", "!"]);
  });

  it("decodes a character whose bytes are split across reads, and CRLF line endings", async () => {
    const bytes = encoder.encode(event(chunk("café ☕")) + "data: [DONE]\n\n");
    const at = bytes.indexOf(0xe2) + 1; // inside the three bytes of ☕
    expect(await contents(responseOf([bytes.slice(0, at), bytes.slice(at)]).response)).toEqual(["café ☕"]);
    const crlf = `data: ${JSON.stringify(chunk("a"))}\r\n\r\ndata: [DONE]\r\n\r\n`;
    expect(await contents(responseOf([crlf]).response)).toEqual(["a"]);
  });

  it("treats a body that ends without [DONE], or no body, as an incomplete answer", async () => {
    const received: string[] = [];
    const failure = await (async () => {
      for await (const c of readChatChunks(
        responseOf([event(chunk("par")), event(chunk("tial"))]).response,
        new AbortController().signal,
      )) {
        received.push(c.choices[0]!.delta.content!);
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(received).toEqual(["par", "tial"]);
    expect(String(failure)).toContain("without its closing [DONE]");
    await expect(contents(new Response(null))).rejects.toThrow("no body");
  });

  it("ignores comments and anything after [DONE], and reads the body to its end (no cancel)", async () => {
    const { response, cancelled } = responseOf([": keep-alive\n\n", event(chunk("a")), "data: [DONE]\n\n", event(chunk("late"))]);
    expect(await contents(response)).toEqual(["a"]);
    expect(cancelled()).toBe(false);
  });

  it("sends the chunks before an error event, then throws Azure's error with its message and code", async () => {
    const error = { message: "The server had an error", type: "server_error", code: "server_error" };
    const { response } = responseOf([event(chunk("Hel")) + event({ error }) + event(chunk("never"))]);
    const received: string[] = [];
    const failure = await (async () => {
      for await (const c of readChatChunks(response, new AbortController().signal)) received.push(c.choices[0]!.delta.content!);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(received).toEqual(["Hel"]);
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ kind: "transient", code: "server_error", status: undefined, details: error });
    expect((failure as AppError).message).toBe("Azure OpenAI reported an error midway through the answer: The server had an error");
  });

  it("throws on a data line that is not JSON, after the chunks before it", async () => {
    const received: string[] = [];
    const failure = await (async () => {
      for await (const c of readChatChunks(responseOf([event(chunk("ok")), "data: {oops\n\n"]).response, new AbortController().signal)) {
        received.push(c.choices[0]!.delta.content!);
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(received).toEqual(["ok"]);
    expect(failure).toBeInstanceOf(SyntaxError);
  });

  it("cancels the upstream body when the consumer stops early", async () => {
    const { response, cancelled } = responseOf([event(chunk("a")), event(chunk("b")), event(chunk("c")), "data: [DONE]\n\n"]);
    for await (const _ of readChatChunks(response, new AbortController().signal)) break;
    expect(cancelled()).toBe(true);
  });

  it("ends quietly when the caller's signal aborted the body", async () => {
    const abort = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(event(chunk("a"))));
        abort.signal.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")));
      },
    });
    const received: string[] = [];
    for await (const c of readChatChunks(new Response(body), abort.signal)) {
      received.push(c.choices[0]!.delta.content!);
      abort.abort();
    }
    expect(received).toEqual(["a"]);
  });

  it("times only the upstream's silence: a consumer slower than the idle limit between chunks is no idle upstream", async () => {
    // The answer is all there at once; the consumer takes 120 ms per chunk against a 40 ms idle limit.
    const { response } = responseOf([event(chunk("a")), event(chunk("b")), event(chunk("c")), "data: [DONE]\n\n"]);
    const received: string[] = [];
    for await (const c of readChatChunks(response, new AbortController().signal, 40)) {
      received.push(c.choices[0]!.delta.content!);
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
    expect(received).toEqual(["a", "b", "c"]);
  });

  it("throws when the body breaks midway and nobody aborted", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(event(chunk("a"))));
        setTimeout(() => controller.error(new TypeError("terminated")), 5);
      },
    });
    await expect(contents(new Response(body))).rejects.toThrow("terminated");
  });
});

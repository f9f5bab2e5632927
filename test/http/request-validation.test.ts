import { describe, expect, it } from "vitest";
import { BadInputError } from "../../src/errors.js";
import { parseChatRequest } from "../../src/http/chat-request.js";
import { describeError } from "../../src/http/error-response.js";
import { readJsonObject } from "../../src/http/request-body.js";

const DEPLOYMENTS = ["gpt-4o-mini"];

function requestWith(body: string | Uint8Array | ReadableStream<Uint8Array> | null, headers: Record<string, string> = {}): Request {
  return new Request("http://127.0.0.1/api/v1/chat/completions", { method: "POST", body, headers, duplex: "half" } as RequestInit);
}

function badInput(run: () => unknown): BadInputError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    return error as BadInputError;
  }
  throw new Error("expected a BadInputError");
}

async function rejected(promise: Promise<unknown>): Promise<BadInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadInputError);
  return error as BadInputError;
}

describe("readJsonObject", () => {
  it("returns the parsed object", async () => {
    expect(await readJsonObject(requestWith('{"a":1}'), 1024)).toEqual({ a: 1 });
  });

  it.each([
    ["", "empty"],
    ["{not json", "not valid JSON"],
    ["[1,2]", "must be a JSON object (got an array)"],
    ["null", "got null"],
    ["42", "got a number"],
  ])("refuses %j with a 400 that says why (%s)", async (body, expected) => {
    const error = await rejected(readJsonObject(requestWith(body), 1024));
    expect(error.message).toContain(expected);
    expect(describeError(error).status).toBe(400);
    expect(error.code).toBe("invalid_json");
  });

  it("refuses bytes that are not UTF-8", async () => {
    const error = await rejected(readJsonObject(requestWith(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 1024));
    expect(error.message).toContain("UTF-8");
  });

  it("answers 413 for a body over the limit, whether or not content-length declares it", async () => {
    const big = JSON.stringify({ text: "x".repeat(5000) });
    const declared = await rejected(readJsonObject(requestWith(big), 1024));
    expect(describeError(declared).status).toBe(413);
    expect(declared.message).toContain("HTTP_MAX_REQUEST_BYTES");

    // A streamed body has no content-length: past the limit the rest is read to its end and
    // dropped, not cancelled, which would leave unread bytes stalling the host's connection.
    let pulled = 0;
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 1000) controller.close();
        else controller.enqueue(new Uint8Array(512).fill(0x20));
      },
      cancel() {
        cancelled = true;
      },
    });
    const undeclared = await rejected(readJsonObject(requestWith(stream), 1024));
    expect(describeError(undeclared).status).toBe(413);
    expect(pulled).toBe(1001);
    expect(cancelled).toBe(false);
  });

  it("answers 413 even when an oversized upload breaks off while the rest is being dropped", async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 5) controller.error(new Error("socket hang up"));
        else controller.enqueue(new Uint8Array(512).fill(0x20));
      },
    });
    const error = await rejected(readJsonObject(requestWith(stream), 1024));
    expect(describeError(error).status).toBe(413);
  });
});

describe("parseChatRequest", () => {
  const user = { role: "user", content: "Hello" };

  it("defaults the model to the chat deployment and strips what the app sets itself", () => {
    const parsed = parseChatRequest(
      { messages: [user], stream: true, stream_options: { include_usage: true }, seed: 7, extra_field: "kept" },
      DEPLOYMENTS,
    );
    expect(parsed).toEqual({
      deployment: "gpt-4o-mini",
      stream: true,
      includeUsage: true,
      body: { messages: [user], seed: 7, extra_field: "kept" },
    });
  });

  it("passes tools, tool_choice, images, response_format, stop and token limits through", () => {
    const body = {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief" },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "low" } },
          ],
        },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "42" },
      ],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: {} } } }],
      tool_choice: { type: "function", function: { name: "f" } },
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
      stop: ["\n\n"],
      max_tokens: 50,
      max_completion_tokens: 50,
    };
    const { model: _model, ...rest } = body;
    expect(parseChatRequest(body, DEPLOYMENTS).body).toEqual(rest);
  });

  it.each([
    [{}, "messages", "missing_required_parameter", "'messages' is required"],
    [{ messages: "hi" }, "messages", "invalid_type", 'must be an array (got "hi")'],
    [{ messages: [] }, "messages", "invalid_type", "needs at least one message"],
    [
      { messages: [{ role: "robot", content: "x" }] },
      "messages[0].role",
      "invalid_value",
      'must be one of system, developer, user, assistant, tool, function (got "robot")',
    ],
    [{ messages: [{ role: "user" }] }, "messages[0].content", "invalid_type", "is required for a message with role user"],
    [{ messages: [{ role: "user", content: 5 }] }, "messages[0].content", "invalid_type", "must be a string or an array of content parts"],
    [
      { messages: [{ role: "tool", content: "x" }] },
      "messages[0].tool_call_id",
      "invalid_type",
      "is required for a message with role tool",
    ],
    [{ messages: [user], max_tokens: "10" }, "max_tokens", "invalid_type", 'got "10"'],
    [{ messages: [user], max_tokens: 1.5 }, "max_tokens", "invalid_type", "must be an integer"],
    [{ messages: [user], temperature: 3 }, "temperature", "invalid_type", "must be at most 2"],
    [{ messages: [user], stream: "yes" }, "stream", "invalid_type", "must be a boolean"],
    [
      { messages: [user], stream_options: { include_usage: true } },
      "stream_options",
      "invalid_value",
      "only allowed when 'stream' is true",
    ],
    [{ messages: [user], model: "gpt-5" }, "model", "model_not_found", "'gpt-4o-mini'"],
    [
      { messages: [user], tools: [{ type: "function", function: { name: "has space" } }] },
      "tools[0].function.name",
      "invalid_type",
      "letters, digits",
    ],
  ])("refuses %j: param %s, code %s", (body, param, code, message) => {
    const error = badInput(() => parseChatRequest(body, DEPLOYMENTS));
    expect(error.param).toBe(param);
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    expect(describeError(error).status).toBe(400);
  });
});

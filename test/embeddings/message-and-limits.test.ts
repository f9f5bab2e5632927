import { describe, expect, it } from "vitest";
import { BadInputError } from "../../src/errors.js";
import { prepareInputs, validateDimensions } from "../../src/embeddings/input-limits.js";
import { parseEmbeddingsMessage, requestedModel } from "../../src/embeddings/message-schema.js";

const QUEUE_ID = "8c4b5d0e-1f2a-4b3c-9d8e-7f6a5b4c3d2e";

function badInput(fn: () => unknown): BadInputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    return error as BadInputError;
  }
  throw new Error("expected a BadInputError");
}

describe("parseEmbeddingsMessage", () => {
  it("accepts the documented shape and defaults the id to the queue message id", () => {
    expect(parseEmbeddingsMessage({ input: "hello" }, QUEUE_ID)).toEqual({ input: "hello", id: QUEUE_ID });
    const full = { id: "docs/a-1", input: ["a", "b"], dimensions: 256, deployment: "d", metadata: { source: "x", n: 1 } };
    expect(parseEmbeddingsMessage(full, QUEUE_ID)).toEqual(full);
    expect(parseEmbeddingsMessage({ input: "a", model: "embed-large" }, QUEUE_ID)).toEqual({
      input: "a",
      model: "embed-large",
      id: QUEUE_ID,
    });
  });

  it("takes `deployment` as the older name of `model`, and refuses the two naming different models", () => {
    expect(requestedModel(parseEmbeddingsMessage({ input: "a", deployment: "d" }, QUEUE_ID))).toEqual({ model: "d", param: "deployment" });
    expect(requestedModel(parseEmbeddingsMessage({ input: "a", model: "m", deployment: "m" }, QUEUE_ID))).toEqual({
      model: "m",
      param: "model",
    });
    expect(requestedModel(parseEmbeddingsMessage({ input: "a" }, QUEUE_ID))).toBeUndefined();
    const error = badInput(() => parseEmbeddingsMessage({ id: "x-1", input: "a", model: "m", deployment: "d" }, QUEUE_ID));
    expect(error).toMatchObject({ code: "schema_violation", param: "deployment", details: { id: "x-1" } });
    expect(error.message).toMatch(/give only `model`/);
  });

  it("accepts JSON text, bytes, and base64 of JSON (a message encoded once too often)", () => {
    const json = JSON.stringify({ id: "a", input: "hi" });
    expect(parseEmbeddingsMessage(json, QUEUE_ID).id).toBe("a");
    expect(parseEmbeddingsMessage(Buffer.from(json), QUEUE_ID).id).toBe("a");
    expect(parseEmbeddingsMessage(Buffer.from(json).toString("base64"), QUEUE_ID).id).toBe("a");
  });

  it("rejects text that is not a JSON object, saying how to send one", () => {
    for (const body of ["not json", "[1,2]", 42, null]) {
      const error = badInput(() => parseEmbeddingsMessage(body, QUEUE_ID));
      expect(error.code).toBe("invalid_json");
      expect(error.message).toMatch(/base64/);
    }
  });

  it("names the field at fault and keeps a usable id for the error record", () => {
    const error = badInput(() => parseEmbeddingsMessage({ id: "job-7", input: 5 }, QUEUE_ID));
    expect(error.code).toBe("schema_violation");
    expect(error.param).toBe("input");
    expect(error.message).toMatch(/`input`/);
    expect((error.details as { id?: string }).id).toBe("job-7");
  });

  it("rejects unknown fields (a typo is not silently ignored)", () => {
    const error = badInput(() => parseEmbeddingsMessage({ inputs: ["a"] }, QUEUE_ID));
    expect(error.message).toMatch(/"inputs"/);
  });

  it("accepts the enqueue time a handed-back copy carries, and rejects one that is not an ISO time", () => {
    expect(parseEmbeddingsMessage({ input: "x", enqueuedAt: "2025-01-31T10:15:00.000Z" }, QUEUE_ID).enqueuedAt).toBe(
      "2025-01-31T10:15:00.000Z",
    );
    const error = badInput(() => parseEmbeddingsMessage({ input: "x", enqueuedAt: "yesterday" }, QUEUE_ID));
    expect(error.param).toBe("enqueuedAt");
    expect(error.message).toMatch(/`enqueuedAt` must be an ISO 8601 time/);
  });

  it("rejects ids that are unsafe or would collide with error records", () => {
    for (const id of ["../x", "/abs", "a//b", "x.error", "", "a".repeat(201), "sp ace"]) {
      const error = badInput(() => parseEmbeddingsMessage({ id, input: "x" }, QUEUE_ID));
      expect(error.param).toBe("id");
      expect((error.details as { id?: string }).id).toBeUndefined();
    }
  });

  it("rejects dimensions that are not whole numbers from 1 to 3072", () => {
    for (const dimensions of [0, 1.5, 4000, "256"]) {
      expect(badInput(() => parseEmbeddingsMessage({ input: "x", dimensions }, QUEUE_ID)).param).toBe("dimensions");
    }
  });
});

describe("prepareInputs", () => {
  const limits = { chunkTokens: 8191, overlapTokens: 0, split: true };

  it("numbers inputs and chunks, with character ranges", () => {
    const chunks = prepareInputs(["one", "two three"], limits);
    expect(chunks.map(({ input, chunk, start, end, text }) => ({ input, chunk, start, end, text }))).toEqual([
      { input: 0, chunk: 0, start: 0, end: 3, text: "one" },
      { input: 1, chunk: 0, start: 0, end: 9, text: "two three" },
    ]);
  });

  it("splits a long input when splitting, and refuses it otherwise", () => {
    const long = "lorem ipsum dolor sit amet ".repeat(100);
    const chunks = prepareInputs(["short", long], { ...limits, chunkTokens: 64 });
    expect(chunks.filter((c) => c.input === 1).length).toBeGreaterThan(5);
    expect(chunks.filter((c) => c.input === 1).map((c) => c.chunk)).toEqual(chunks.filter((c) => c.input === 1).map((_, i) => i));
    const error = badInput(() => prepareInputs(["short", long], { ...limits, chunkTokens: 64, split: false }));
    expect(error).toMatchObject({ code: "input_too_long", param: "input[1]" });
  });

  it("rejects empty input, empty texts, too many inputs and too many tokens", () => {
    expect(badInput(() => prepareInputs([], limits)).code).toBe("empty_input");
    expect(badInput(() => prepareInputs(["a", "  "], limits))).toMatchObject({ code: "empty_input", param: "input[1]" });
    expect(badInput(() => prepareInputs(["a", "b", "c"], { ...limits, maxInputs: 2 })).code).toBe("too_many_inputs");
    expect(badInput(() => prepareInputs(["word ".repeat(50)], { ...limits, maxTotalTokens: 10 })).code).toBe("too_many_tokens");
  });
});

describe("validateDimensions", () => {
  it("accepts 1..3072 and nothing else", () => {
    expect(validateDimensions(undefined)).toBeUndefined();
    expect(validateDimensions(3072)).toBe(3072);
    expect(badInput(() => validateDimensions(0)).param).toBe("dimensions");
  });
});

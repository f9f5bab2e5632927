import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitIntoChunks } from "../../src/embeddings/chunking.js";
import { countTokens } from "../../src/embeddings/tokenizer.js";

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i % 97} `).join("");

describe("splitIntoChunks", () => {
  it("returns text that fits as one chunk covering the whole input", () => {
    const text = "The quick brown fox jumps over the lazy dog.";
    expect(splitIntoChunks(text, { chunkTokens: 8191, overlapTokens: 0 })).toEqual([
      { text, start: 0, end: text.length, tokens: countTokens(text) },
    ]);
  });

  it("cuts long text into chunks under the limit whose ranges tile the input exactly", () => {
    const text = words(2000);
    const chunks = splitIntoChunks(text, { chunkTokens: 100, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(20);
    let cursor = 0;
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.start).toBe(cursor);
      expect(text.slice(chunk.start, chunk.end)).toBe(chunk.text);
      expect(chunk.tokens).toBe(countTokens(chunk.text));
      expect(chunk.tokens).toBeLessThanOrEqual(100);
      if (i < chunks.length - 1) expect(chunk.tokens).toBeGreaterThan(80); // greedy: chunks are nearly full
      cursor = chunk.end;
    }
    expect(cursor).toBe(text.length);
  });

  it("repeats about overlapTokens tokens between neighbours and always moves forward", () => {
    const text = words(1500);
    const chunks = splitIntoChunks(text, { chunkTokens: 120, overlapTokens: 30 });
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1]!;
      const current = chunks[i]!;
      expect(current.start).toBeGreaterThan(previous.start);
      expect(current.start).toBeLessThan(previous.end);
      const shared = countTokens(text.slice(current.start, previous.end));
      expect(shared).toBeGreaterThan(15);
      expect(shared).toBeLessThanOrEqual(31);
    }
    expect(chunks.at(-1)!.end).toBe(text.length);
  });

  it("cuts a run without spaces, never inside a character (emoji, accents, CJK)", () => {
    const text = "é😀漢字".repeat(3000) + "a".repeat(5000);
    const chunks = splitIntoChunks(text, { chunkTokens: 64, overlapTokens: 0 });
    expect(chunks.map((c) => c.text).join("")).toBe(text);
    for (const chunk of chunks) {
      expect(chunk.tokens).toBeLessThanOrEqual(64);
      expect(chunk.text).not.toContain("\uFFFD");
      expect(text.slice(chunk.start, chunk.end)).toBe(chunk.text);
    }
  });

  it("treats special-token text as ordinary text", () => {
    const text = "a <|endoftext|> b ".repeat(100);
    const chunks = splitIntoChunks(text, { chunkTokens: 50, overlapTokens: 0 });
    expect(chunks.map((c) => c.text).join("")).toBe(text);
  });

  it("rejects an overlap that is not smaller than the chunk", () => {
    expect(() => splitIntoChunks("x", { chunkTokens: 16, overlapTokens: 16 })).toThrow(RangeError);
  });

  it("holds for arbitrary text: chunks fit, cover the input in order, and match their ranges", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 600 }),
        fc.integer({ min: 16, max: 64 }),
        fc.integer({ min: 0, max: 15 }),
        (text, chunkTokens, overlapTokens) => {
          const chunks = splitIntoChunks(text, { chunkTokens, overlapTokens });
          expect(chunks[0]!.start).toBe(0);
          expect(chunks.at(-1)!.end).toBe(text.length);
          for (const [i, chunk] of chunks.entries()) {
            expect(chunk.tokens).toBeLessThanOrEqual(chunkTokens);
            expect(text.slice(chunk.start, chunk.end)).toBe(chunk.text);
            if (i > 0) {
              expect(chunk.start).toBeGreaterThan(chunks[i - 1]!.start);
              expect(chunk.start).toBeLessThanOrEqual(chunks[i - 1]!.end); // no gaps
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

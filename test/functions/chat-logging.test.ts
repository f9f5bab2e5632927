/**
 * What a streamed chat (and a Responses API call) writes to the host's log: one line per Azure OpenAI call with its usage,
 * and no "log after function execution has completed" warnings, although the stream (and its
 * final log line) outlives the handler.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";

const lines: string[] = [];
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { HTTP_AUTH_LEVEL: "anonymous" }, host: { onLog: (line) => lines.push(line) } });
});
afterAll(() => stack?.stop());

it("logs the streamed call's usage without logging through a finished invocation", async () => {
  const client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }], stream: true });
  for await (const chunk of stream) void chunk;
  // The last line is written as the stream closes; give the host a moment to relay it.
  await expect.poll(() => lines.some((l) => /Azure OpenAI chat\.completions.*completionTokens=\d+/.test(l)), { timeout: 5000 }).toBe(true);
  expect(lines.filter((l) => /Unexpected call to '\w+' on the context object after function execution has completed/.test(l))).toEqual([]);
});

it("logs each Responses API call's usage, streamed and not, the same way", async () => {
  const client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
  await client.responses.create({ model: "gpt-4o-mini", input: "Hi" });
  const stream = await client.responses.create({ model: "gpt-4o-mini", input: "Hi", stream: true });
  for await (const event of stream) void event;
  const usageLine = /Azure OpenAI responses( stream)? deployment=gpt-4o-mini .*status=200 promptTokens=\d+ completionTokens=\d+/;
  await expect.poll(() => lines.filter((l) => usageLine.test(l)).length, { timeout: 5000 }).toBe(2);
  expect(lines.filter((l) => /Unexpected call to '\w+' on the context object after function execution has completed/.test(l))).toEqual([]);
});

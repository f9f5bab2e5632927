/**
 * Cached and reasoning tokens as the `openai` SDK types them in chat/completions and Responses
 * answers (the simulator reports none of either, so their reading is checked on the SDK's shapes).
 */
import type { CompletionUsage } from "openai/resources/completions";
import type { ResponseUsage } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { completionUsage, responsesUsage } from "../../src/openai/call-log.js";

describe("usage of an answer", () => {
  it("reads chat and completions usage with its cached prompt and reasoning tokens", () => {
    const usage: CompletionUsage = {
      prompt_tokens: 1200,
      completion_tokens: 300,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 128, audio_tokens: 0 },
    };
    expect(completionUsage(usage)).toEqual({ promptTokens: 1200, completionTokens: 300, cachedTokens: 1024, reasoningTokens: 128 });
    const plain: CompletionUsage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
    expect(completionUsage(plain)).toEqual({ promptTokens: 5, completionTokens: 2 });
    expect(completionUsage(null)).toEqual({});
  });

  it("reads the Responses API's input and output tokens with their details", () => {
    const usage: ResponseUsage = {
      input_tokens: 900,
      output_tokens: 400,
      total_tokens: 1300,
      input_tokens_details: { cached_tokens: 512, cache_write_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 256 },
    };
    expect(responsesUsage(usage)).toEqual({ promptTokens: 900, completionTokens: 400, cachedTokens: 512, reasoningTokens: 256 });
    expect(responsesUsage(undefined)).toEqual({});
  });
});

/** Each capability's estimate counts what the request sends and the most its answer may use. */
import { beforeAll, describe, expect, it } from "vitest";
import {
  chatTokenEstimate,
  completionsTokenEstimate,
  embeddingsTokenEstimate,
  responsesTokenEstimate,
} from "../../src/caller-limits/request-estimates.js";
import { countTokens } from "../../src/embeddings/tokenizer.js";
import { tokenCounterLoaded } from "../../src/routing/token-estimate.js";

beforeAll(async () => {
  await tokenCounterLoaded();
});

describe("request estimates (tokenizer loaded)", () => {
  it("chat: every message's text, 4 per message, and max_completion_tokens before max_tokens", () => {
    const body = {
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "Hello there" },
            { type: "image_url", image_url: { url: "https://x" } },
          ],
        },
      ],
      max_tokens: 50,
      max_completion_tokens: 70,
    };
    expect(chatTokenEstimate(body).exact()).toBe(countTokens("Be brief.") + countTokens("Hello there") + 8 + 70);
  });

  it("legacy completions: text and token-id prompts, and OpenAI's default of 16 answer tokens", () => {
    expect(completionsTokenEstimate({ prompt: "Once upon a time" }).exact()).toBe(countTokens("Once upon a time") + 16);
    expect(completionsTokenEstimate({ prompt: [1, 2, 3], max_tokens: 5 }).exact()).toBe(8);
    expect(completionsTokenEstimate({ prompt: [[1, 2], [3]], max_tokens: 0 }).exact()).toBe(3);
  });

  it("Responses: instructions, a string or items (message content, function outputs), and max_output_tokens", () => {
    expect(responsesTokenEstimate({ input: "Say hi", max_output_tokens: 20 }).exact()).toBe(countTokens("Say hi") + 4 + 20);
    const items = [
      { role: "user", content: [{ type: "input_text", text: "What is the weather?" }] },
      { type: "function_call", call_id: "c1", name: "weather", arguments: '{"city":"Oslo"}' },
      { type: "function_call_output", call_id: "c1", output: "Sunny" },
    ];
    expect(responsesTokenEstimate({ instructions: "Answer in French.", input: items }).exact()).toBe(
      countTokens("Answer in French.") + countTokens("What is the weather?") + countTokens('{"city":"Oslo"}') + countTokens("Sunny") + 12,
    );
  });

  it("embeddings: the inputs' tokens, token ids as they are, nothing for an answer", () => {
    expect(embeddingsTokenEstimate(["cats purr", "dogs bark"]).exact()).toBe(countTokens("cats purr") + countTokens("dogs bark"));
    expect(embeddingsTokenEstimate([[1, 2, 3], [4]]).exact()).toBe(4);
  });
});

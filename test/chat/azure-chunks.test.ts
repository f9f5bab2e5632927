import { describe, expect, it } from "vitest";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import fc from "fast-check";
import { createChunkForwarder, forwardableChunks } from "../../src/chat/azure-chunks.js";
import { jsonTextOf, rememberJsonText } from "../../src/http/sse.js";

const promptFilterResults = [{ prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: "safe" } } }];

/** The stream Azure OpenAI sends with include_usage on (shape as documented and as the simulator sends it). */
function azureStream(): Record<string, unknown>[] {
  const base = {
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-4o-mini-2024-07-18",
    system_fingerprint: "fp",
    usage: null,
  };
  return [
    { id: "", object: "", created: 0, model: "", choices: [], prompt_filter_results: promptFilterResults },
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null, logprobs: null }] },
    {
      ...base,
      choices: [
        {
          index: 0,
          delta: { content: "Hi" },
          finish_reason: null,
          logprobs: null,
          content_filter_results: { hate: { filtered: false, severity: "safe" } },
        },
      ],
    },
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop", logprobs: null }] },
    { ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } },
  ];
}

async function collect(includeUsage: boolean, source = azureStream()) {
  const usages: unknown[] = [];
  async function* upstream() {
    for (const chunk of source) yield chunk as unknown as ChatCompletionChunk;
  }
  const out: Record<string, unknown>[] = [];
  for await (const chunk of forwardableChunks(upstream(), { includeUsage, onUsage: (u) => usages.push(u) })) {
    out.push(chunk as unknown as Record<string, unknown>);
  }
  return { out, usages };
}

describe("forwardableChunks", () => {
  it("drops the annotation-only chunk and moves its prompt_filter_results onto the first chunk sent", async () => {
    const { out } = await collect(true);
    expect(out).toHaveLength(4);
    expect(out[0]!.prompt_filter_results).toEqual(promptFilterResults);
    expect(out.slice(1).every((c) => !("prompt_filter_results" in c))).toBe(true);
    // Every chunk but the usage chunk has a choice, as OpenAI's stream does.
    expect(out.slice(0, 3).every((c) => (c.choices as unknown[]).length === 1)).toBe(true);
  });

  it("keeps Azure's per-choice content_filter_results", async () => {
    const { out } = await collect(true);
    expect((out[1]!.choices as Record<string, unknown>[])[0]!.content_filter_results).toBeDefined();
  });

  it("forwards the usage chunk only when the caller asked, but always reports usage for the log", async () => {
    const asked = await collect(true);
    expect(asked.out.at(-1)!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 });
    const notAsked = await collect(false);
    expect(notAsked.out).toHaveLength(3);
    expect(notAsked.out.every((c) => !("usage" in c))).toBe(true);
    expect(notAsked.usages).toEqual([{ prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 }]);
  });
});

describe("forwardableChunks with Azure's asynchronous content filter", () => {
  it("gives delta-less annotation choices an empty delta and the stream's id and model", async () => {
    const stream = azureStream();
    stream.splice(4, 0, {
      id: "",
      object: "",
      created: 0,
      model: "",
      choices: [
        {
          index: 0,
          finish_reason: null,
          content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: 2 },
          content_filter_results: {},
        },
      ],
    });
    const { out } = await collect(false, stream);
    const annotation = out[3]!;
    expect(annotation).toMatchObject({ id: "chatcmpl-1", object: "chat.completion.chunk", model: "gpt-4o-mini-2024-07-18", created: 1 });
    expect((annotation.choices as Record<string, unknown>[])[0]).toMatchObject({ delta: {}, content_filter_offsets: { end_offset: 2 } });
  });
});

describe("createChunkForwarder: Azure's own text for chunks passed on unchanged", () => {
  const parsed = (text: string) => {
    const value = JSON.parse(text) as ChatCompletionChunk;
    rememberJsonText(value, text);
    return value;
  };

  it("keeps the text of a chunk it does not change, and drops it for one it changes", () => {
    const forward = createChunkForwarder({ includeUsage: true });
    const plain = JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: {} }] });
    expect(jsonTextOf(forward(parsed(plain)))).toBe(plain);
    // No delta: the forwarder adds one, so the chunk is serialised again.
    const noDelta = JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0 }] });
    expect(jsonTextOf(forward(parsed(noDelta)))).toBeUndefined();
  });

  it("cutting a trailing usage:null from the text leaves exactly the chunk without usage (any members before it)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((key) => key !== "usage" && key !== "__proto__"),
          fc.jsonValue(),
        ),
        (members) => {
          const forward = createChunkForwarder({ includeUsage: false });
          const chunk = { ...members, id: "c", choices: [{ index: 0, delta: {} }], usage: null };
          const out = forward(parsed(JSON.stringify(chunk)));
          const { usage: _usage, ...sent } = chunk;
          // Compared as JSON sees it: the chunk crossed the wire as JSON, which has no -0.
          const expected = JSON.parse(JSON.stringify(sent)) as unknown;
          expect(out).toEqual(expected);
          expect(JSON.parse(jsonTextOf(out)!)).toEqual(expected);
        },
      ),
    );
  });
});

/**
 * Turns Azure OpenAI's stream into OpenAI's. Azure adds chunks OpenAI never sends:
 *
 * - an annotation-only first chunk: `choices: []`, `prompt_filter_results: [...]`, empty `id`/`model`.
 *   Clients written against OpenAI read `chunk.choices[0]` on every chunk that isn't the usage chunk,
 *   and break on it. We drop that chunk and move its `prompt_filter_results` onto the next chunk we
 *   send, so nothing Azure said is lost and every chunk has a choice.
 * - `content_filter_results` inside choices pass unchanged (OpenAI clients ignore extra fields).
 * - with the asynchronous content filter, annotation chunks after the content whose choices have
 *   no `delta` and whose `id`/`model`/`object`/`created` are empty. Clients that accumulate deltas
 *   (the `openai` package's stream helpers among them) read `choice.delta.content` and break on
 *   them, so we give such choices an empty `delta` and fill the empty identity fields from the
 *   stream's other chunks. The annotations (`content_filter_results`, `content_filter_offsets`) stay.
 *
 * The app always asks Azure for usage (to log tokens); the usage chunk (`choices: []` + `usage`) is
 * forwarded only when the caller asked for `stream_options.include_usage`, and `usage` fields are
 * then removed from other chunks, exactly as OpenAI answers a caller who did not ask.
 */
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { jsonTextOf, rememberJsonText } from "../http/sse.js";

export interface ForwardOptions {
  /** The caller asked for `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Receives the usage when Azure reports it (for the call log). */
  onUsage?: (usage: CompletionUsage) => void;
}

type AzureChunk = ChatCompletionChunk & { prompt_filter_results?: unknown };

/**
 * The last member of a chunk's JSON text when it is `usage: null`. In valid JSON whose text ends
 * so, that member belongs to the top-level object (the final brace closes it, and the quote after
 * the comma cannot be escaped), so cutting it leaves the same object without `usage`.
 */
const USAGE_NULL_TAIL = ',"usage":null}';

/**
 * The same forwarding one chunk at a time, synchronously: returns the chunk to send for each
 * upstream chunk, or undefined when there is nothing to send for it. Unchanged chunks are
 * returned as the very object received (the SSE encoder may then send Azure's own bytes).
 * Used inside the upstream reader, so no async layer is added per chunk.
 */
export function createChunkForwarder(options: ForwardOptions): (received: ChatCompletionChunk) => ChatCompletionChunk | undefined {
  let pendingPromptFilterResults: unknown;
  let identity: Pick<ChatCompletionChunk, "id" | "object" | "created" | "model"> | undefined;
  return (received) => {
    let chunk = received as AzureChunk;
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (chunk.id) identity ??= { id: chunk.id, object: chunk.object, created: chunk.created, model: chunk.model };
    else if (identity && choices.length > 0) chunk = { ...chunk, ...identity };
    if (choices.some((choice) => choice.delta === undefined)) {
      chunk = { ...chunk, choices: choices.map((choice) => (choice.delta === undefined ? { ...choice, delta: {} } : choice)) };
    }
    if (chunk.usage) options.onUsage?.(chunk.usage);
    if (choices.length === 0) {
      if (chunk.usage) {
        if (options.includeUsage) return chunk;
      } else if (chunk.prompt_filter_results !== undefined) {
        pendingPromptFilterResults = chunk.prompt_filter_results;
      }
      // Any other choice-less chunk carries nothing an OpenAI client could use.
      return undefined;
    }
    let out: AzureChunk = chunk;
    if (!options.includeUsage && "usage" in out) {
      const { usage: _usage, ...rest } = out;
      // Azure ends every chunk with `,"usage":null` when usage is asked for (the app always asks):
      // without it, the text Azure sent is still this chunk's, so it can still be sent as is.
      const text = jsonTextOf(out);
      if (out.usage === null && text?.endsWith(USAGE_NULL_TAIL)) rememberJsonText(rest, `${text.slice(0, -USAGE_NULL_TAIL.length)}}`);
      out = rest as AzureChunk;
    }
    if (pendingPromptFilterResults !== undefined) {
      out = { ...out, prompt_filter_results: pendingPromptFilterResults };
      pendingPromptFilterResults = undefined;
    }
    return out;
  };
}

/** Yields the chunks to send to the caller, in order, as soon as each upstream chunk arrives. */
export async function* forwardableChunks(
  upstream: AsyncIterable<ChatCompletionChunk>,
  options: ForwardOptions,
): AsyncGenerator<ChatCompletionChunk> {
  const forward = createChunkForwarder(options);
  for await (const received of upstream) {
    const out = forward(received);
    if (out !== undefined) yield out;
  }
}

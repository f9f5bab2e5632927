/**
 * Reads Azure OpenAI's streamed chat completion (the raw response of the `openai` client's
 * `.asResponse()`) as chunk objects. The client makes the call (auth, base URL, timeout, error
 * statuses); this reads the body with `eventsource-parser`, which costs about a fifth of the CPU
 * of the client's own stream iterator per stream: with many open streams on one worker that is
 * the difference between keeping pace and falling behind (bench/chat-streaming.ts).
 *
 * Behaves as the client's stream does: ends at `data: [DONE]`; an `error` object in the stream
 * becomes an APIError without status; an abort (the caller left) ends the iteration quietly; a
 * consumer that stops early cancels the body, which releases the upstream connection.
 */
import { createParser } from "eventsource-parser";
import { APIError } from "openai/error";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";

/**
 * @throws APIError when Azure reports an error inside the stream; SyntaxError when a data line
 *   is not JSON; the body's error (e.g. "terminated") when the connection breaks midway.
 */
export async function* readChatChunks(response: Response, signal: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
  if (!response.body) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  // In arrival order; a failure takes its place in the queue, so the chunks before it are sent first.
  const parsed: Array<{ chunk: ChatCompletionChunk } | { error: unknown }> = [];
  // After [DONE] the rest of the body is still read (it ends at once), so the connection is reused.
  let sawDone = false;
  let bodyEnded = false;
  const parser = createParser({
    onEvent: (event) => {
      if (sawDone) return;
      if (event.data.startsWith("[DONE]")) {
        sawDone = true;
        return;
      }
      try {
        const data = JSON.parse(event.data) as ChatCompletionChunk & { error?: unknown };
        if (data && data.error) parsed.push({ error: new APIError(undefined, data.error as object, undefined, response.headers) });
        else parsed.push({ chunk: data });
      } catch (error) {
        parsed.push({ error });
      }
    },
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      // Yield what arrived: one read may hold several events, or none.
      for (let next = parsed.shift(); next; next = parsed.shift()) {
        if ("error" in next) throw next.error;
        yield next.chunk;
      }
    }
    bodyEnded = true;
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  } finally {
    if (!bodyEnded) await reader.cancel().catch(() => undefined);
  }
}

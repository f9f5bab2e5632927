/**
 * Azure OpenAI's streamed chat completion as chunk objects: `data: {chunk}` events that end with
 * `data: [DONE]`, read by the shared upstream reader (src/http/upstream-sse.ts).
 */
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { readDataEvent, readUpstreamEvents } from "../http/upstream-sse.js";

/**
 * @throws AppError (transient, Azure's code) when Azure reports an error inside the stream; SyntaxError when a data line
 *   is not JSON; the body's error (e.g. "terminated") when the connection breaks midway; Error
 *   when the body ends without `[DONE]` or there is none; AppError `stream_idle_timeout` when,
 *   after the first chunk, nothing arrives for `idleTimeoutInMs`.
 */
export function readChatChunks(response: Response, signal: AbortSignal, idleTimeoutInMs?: number): AsyncGenerator<ChatCompletionChunk> {
  return readUpstreamEvents(response, signal, { read: readDataEvent<ChatCompletionChunk>, lastEventName: "[DONE]", idleTimeoutInMs });
}

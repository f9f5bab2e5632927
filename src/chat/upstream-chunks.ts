/**
 * Azure OpenAI's streamed chat completion as chunk objects: `data: {chunk}` events that end with
 * `data: [DONE]`, read by the shared upstream reader (src/http/upstream-sse.ts).
 */
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { readDataEvent, readUpstreamEvents, type UpstreamEvent } from "../http/upstream-sse.js";
import { createChunkForwarder, type ForwardOptions } from "./azure-chunks.js";

/**
 * @throws AppError (transient, Azure's code) when Azure reports an error inside the stream; SyntaxError when a data line
 *   is not JSON; the body's error (e.g. "terminated") when the connection breaks midway; Error
 *   when the body ends without `[DONE]` or there is none; AppError `stream_idle_timeout` when,
 *   after the first chunk, nothing arrives for `idleTimeoutInMs`.
 */
export function readChatChunks(response: Response, signal: AbortSignal, idleTimeoutInMs?: number): AsyncGenerator<ChatCompletionChunk> {
  return readUpstreamEvents(response, signal, { read: readDataEvent<ChatCompletionChunk>, lastEventName: "[DONE]", idleTimeoutInMs });
}

/**
 * readChatChunks with the Azure chunk fixes (azure-chunks.ts) applied as each chunk is read, in
 * the same iteration: one async step per chunk instead of one per layer, which is most of the
 * app's CPU per chunk after the transport. Failures are thrown as `mapError` makes them.
 * @throws what readChatChunks throws, through `mapError`.
 */
export function readForwardedChatChunks(
  response: Response,
  signal: AbortSignal,
  options: { idleTimeoutInMs?: number; forward: ForwardOptions; mapError?: (error: unknown) => unknown },
): AsyncGenerator<ChatCompletionChunk> {
  const forward = createChunkForwarder(options.forward);
  const read = (data: string): UpstreamEvent<ChatCompletionChunk> => {
    const read = readDataEvent<ChatCompletionChunk>(data);
    if (!("event" in read)) return read;
    const out = forward(read.event);
    return out === undefined ? { skip: true } : { event: out };
  };
  return readUpstreamEvents(response, signal, {
    read,
    lastEventName: "[DONE]",
    idleTimeoutInMs: options.idleTimeoutInMs,
    ...(options.mapError ? { mapError: options.mapError } : {}),
  });
}

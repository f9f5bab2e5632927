/**
 * Chat completions against Azure OpenAI through the shared client. Free of the Functions runtime:
 * the handler passes the client, a logger and the caller's AbortSignal, so a caller who hangs up
 * cancels the upstream request at once (no tokens are generated, and paid for, for nobody).
 *
 * Each call is made once (the shared client never retries, src/openai/client.ts): the caller is an
 * HTTP client that already retries 429 and 5xx itself (the `openai` client does by default,
 * honouring our `Retry-After`); retrying here as well would multiply the attempts and hide the
 * wait from the caller.
 */
import type { OpenAI } from "openai";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from "openai/resources/chat/completions";
import type { ChatRequest } from "../http/chat-request.js";
import { brokenStreamError } from "../http/upstream-sse.js";
import type { Logger } from "../logging.js";
import { completionUsage, loggedCall, openLoggedStream, type CallDescription } from "../openai/call-log.js";
import { STREAM_BODY_AS_NODE_STREAM } from "../openai/stream-body.js";
import { readForwardedChatChunks } from "./upstream-chunks.js";

export interface ChatDependencies {
  client: OpenAI;
  logger: Logger;
  /** Told the usage of each call Azure answered (src/openai/call-log.ts), for per-caller token limits. */
  onUsage?: CallDescription["onUsage"];
  /** Longest silence between two streamed chunks (after the first) before the stream ends with an error; none when unset. */
  streamIdleTimeoutInMs?: number;
}

/**
 * One non-streamed completion, returned as Azure sent it (OpenAI's shape plus Azure's filter results).
 * @throws the client's error (APIError, APIConnectionError, APIUserAbortError); classify it with classifyError.
 */
export function completeChat(deps: ChatDependencies, request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
  const params = { ...request.body, model: request.deployment, stream: false } as ChatCompletionCreateParamsNonStreaming;
  return loggedCall(
    deps.logger,
    { operation: "chat.completions", deployment: request.deployment, onUsage: deps.onUsage },
    () => deps.client.chat.completions.create(params, { signal }).withResponse(),
    (data) => completionUsage(data.usage),
  );
}

/**
 * Opens a streamed completion: resolves once Azure has accepted the request (its response headers
 * arrived), so refusals (429, 400, 401...) can still be answered with a proper status code. The
 * returned iterable yields OpenAI-shaped chunks as they arrive (see azure-chunks.ts) and logs the
 * call when it ends. Aborting `signal` ends it early and releases the upstream connection.
 * @throws (the promise) the client's error when Azure refuses the request or can't be reached;
 *   (the iteration) the client's error when the stream breaks midway.
 */
export function openChatStream(
  deps: ChatDependencies,
  request: ChatRequest,
  signal: AbortSignal,
): Promise<AsyncIterable<ChatCompletionChunk>> {
  const params = {
    ...request.body,
    model: request.deployment,
    stream: true,
    // Always asked for, so every call's tokens are logged; dropped again unless the caller asked.
    stream_options: { include_usage: true },
  } as ChatCompletionCreateParamsStreaming;
  return openLoggedStream(
    deps.logger,
    { operation: "chat.completions stream", deployment: request.deployment, onUsage: deps.onUsage },
    signal,
    // The raw response: its body is read by readChatChunks (see there why), as a Node stream when
    // the client's transport is ours (src/openai/stream-transport.ts).
    () => deps.client.chat.completions.create(params, { signal, fetchOptions: STREAM_BODY_AS_NODE_STREAM }).asResponse(),
    // One iteration reads, fixes and passes on each chunk; stopping early (the caller left)
    // cancels the upstream body, inside it.
    (response, reportUsage) =>
      readForwardedChatChunks(response, signal, {
        idleTimeoutInMs: deps.streamIdleTimeoutInMs,
        forward: {
          includeUsage: request.includeUsage,
          onUsage: (usage) => reportUsage(completionUsage(usage)),
        },
        mapError: brokenStreamError,
      }),
  );
}

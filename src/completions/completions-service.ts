/**
 * Legacy completions against Azure OpenAI through the shared client, streamed or not, like chat
 * (src/chat/chat-service.ts): one attempt, the caller's abort cancels the upstream request, each
 * call logged with its tokens. The stream is read with the shared upstream reader and reshaped as
 * chat's is (src/chat/azure-chunks.ts): Azure's choice-less annotation chunk is folded into the
 * next chunk, and usage (always asked for, to log it) reaches only callers who asked for it.
 */
import type { OpenAI } from "openai";
import type { Completion, CompletionCreateParamsNonStreaming, CompletionCreateParamsStreaming } from "openai/resources/completions";
import { brokenStreamError, readDataEvent, readUpstreamEvents } from "../http/upstream-sse.js";
import type { Logger } from "../logging.js";
import { completionUsage, loggedCall, openLoggedStream, type CallDescription } from "../openai/call-log.js";
import type { CompletionsRequest } from "./completions-request.js";

export interface CompletionsDependencies {
  client: OpenAI;
  logger: Logger;
  /** Told the usage of each call Azure answered (src/openai/call-log.ts), for per-caller token limits. */
  onUsage?: CallDescription["onUsage"];
  streamIdleTimeoutInMs?: number;
}

type AzureCompletionChunk = Completion & { prompt_filter_results?: unknown; error?: unknown };

/** @throws the client's error; classify it with classifyError. */
export function complete(deps: CompletionsDependencies, request: CompletionsRequest, signal: AbortSignal): Promise<Completion> {
  const params = { ...request.body, model: request.deployment, stream: false } as CompletionCreateParamsNonStreaming;
  return loggedCall(
    deps.logger,
    { operation: "completions", deployment: request.deployment, onUsage: deps.onUsage },
    () => deps.client.completions.create(params, { signal }).withResponse(),
    (data) => completionUsage(data.usage),
  );
}

/**
 * Opens a streamed completion: resolves once Azure has accepted it (refusals keep their status).
 * @throws (the promise) the client's error; (the iteration) AppError when the stream breaks midway.
 */
export function openCompletionsStream(
  deps: CompletionsDependencies,
  request: CompletionsRequest,
  signal: AbortSignal,
): Promise<AsyncIterable<Completion>> {
  const params = {
    ...request.body,
    model: request.deployment,
    stream: true,
    stream_options: { include_usage: true },
  } as CompletionCreateParamsStreaming;
  return openLoggedStream(
    deps.logger,
    { operation: "completions stream", deployment: request.deployment, onUsage: deps.onUsage },
    signal,
    () => deps.client.completions.create(params, { signal }).asResponse(),
    async function* (response, reportUsage) {
      let pendingFilterResults: unknown;
      try {
        const chunks = readUpstreamEvents(response, signal, {
          read: readDataEvent<AzureCompletionChunk>,
          lastEventName: "[DONE]",
          idleTimeoutInMs: deps.streamIdleTimeoutInMs,
        });
        for await (const received of chunks) {
          let chunk: AzureCompletionChunk = received;
          if (chunk.usage) reportUsage(completionUsage(chunk.usage));
          if (!Array.isArray(chunk.choices) || chunk.choices.length === 0) {
            if (chunk.usage && request.includeUsage) yield chunk;
            else if (chunk.prompt_filter_results !== undefined) pendingFilterResults = chunk.prompt_filter_results;
            continue;
          }
          if (pendingFilterResults !== undefined) {
            chunk = { ...chunk, prompt_filter_results: pendingFilterResults };
            pendingFilterResults = undefined;
          }
          if (!request.includeUsage && "usage" in chunk) {
            const { usage: _usage, ...rest } = chunk;
            chunk = rest as AzureCompletionChunk;
          }
          yield chunk;
        }
      } catch (error) {
        throw brokenStreamError(error);
      }
    },
  );
}

/**
 * Legacy completions against Azure OpenAI through the shared client, streamed or not, like chat
 * (src/chat/chat-service.ts): one attempt, the caller's abort cancels the upstream request, each
 * call logged with its tokens. The stream is read with the shared upstream reader and reshaped as
 * chat's is (src/chat/azure-chunks.ts): Azure's choice-less annotation chunk is folded into the
 * next chunk, and usage (always asked for, to log it) reaches only callers who asked for it.
 */
import type { OpenAI } from "openai";
import type {
  Completion,
  CompletionCreateParamsNonStreaming,
  CompletionCreateParamsStreaming,
  CompletionUsage,
} from "openai/resources/completions";
import { AppError, classifyError } from "../errors.js";
import { inStreamError, readUpstreamEvents, type UpstreamEvent } from "../http/upstream-sse.js";
import type { Logger } from "../logging.js";
import { loggedCall, logFailedOpenAICall, logOpenAICall, upstreamRequestId } from "../openai/call-log.js";
import type { CompletionsRequest } from "./completions-request.js";

export interface CompletionsDependencies {
  client: OpenAI;
  logger: Logger;
  streamIdleTimeoutInMs?: number;
}

type AzureCompletionChunk = Completion & { prompt_filter_results?: unknown; error?: unknown };

/** @throws the client's error; classify it with classifyError. */
export function complete(deps: CompletionsDependencies, request: CompletionsRequest, signal: AbortSignal): Promise<Completion> {
  const params = { ...request.body, model: request.deployment, stream: false } as CompletionCreateParamsNonStreaming;
  return loggedCall(
    deps.logger,
    { operation: "completions", deployment: request.deployment },
    () => deps.client.completions.create(params, { signal }).withResponse(),
    (data) => ({ promptTokens: data.usage?.prompt_tokens, completionTokens: data.usage?.completion_tokens }),
  );
}

/**
 * Opens a streamed completion: resolves once Azure has accepted it (refusals keep their status).
 * @throws (the promise) the client's error; (the iteration) AppError when the stream breaks midway.
 */
export async function openCompletionsStream(
  deps: CompletionsDependencies,
  request: CompletionsRequest,
  signal: AbortSignal,
): Promise<AsyncIterable<Completion>> {
  const started = performance.now();
  const params = {
    ...request.body,
    model: request.deployment,
    stream: true,
    stream_options: { include_usage: true },
  } as CompletionCreateParamsStreaming;
  let response: Response;
  try {
    response = await deps.client.completions.create(params, { signal }).asResponse();
  } catch (error) {
    logFailed(deps, request, started, error);
    throw error;
  }
  return (async function* () {
    let usage: CompletionUsage | undefined;
    let pendingFilterResults: unknown;
    try {
      const chunks = readUpstreamEvents(response, signal, {
        read: readEvent,
        lastEventName: "[DONE]",
        idleTimeoutInMs: deps.streamIdleTimeoutInMs,
      });
      for await (const received of chunks) {
        let chunk: AzureCompletionChunk = received;
        if (chunk.usage) usage = chunk.usage;
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
      throw brokenStream(error);
    } finally {
      logOpenAICall(deps.logger, {
        operation: signal.aborted ? "completions stream (caller disconnected)" : "completions stream",
        deployment: request.deployment,
        latencyInMs: performance.now() - started,
        status: response.status,
        promptTokens: usage?.prompt_tokens,
        completionTokens: usage?.completion_tokens,
        requestId: upstreamRequestId(response.headers),
      });
    }
  })();
}

function readEvent(data: string): UpstreamEvent<Completion> {
  if (data.startsWith("[DONE]")) return { end: true };
  const chunk = JSON.parse(data) as AzureCompletionChunk;
  if (chunk && chunk.error) return { error: inStreamError(chunk.error) };
  return { event: chunk };
}

/** A stream cut after it started surfaces as a bare fetch error: say what happened instead. */
function brokenStream(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const classified = classifyError(error);
  if (classified.kind !== "transient" || classified.status !== undefined) return classified;
  return new AppError(
    "transient",
    `Azure OpenAI's stream broke off before the answer was complete (${error instanceof Error ? error.message : String(error)}); the answer so far is incomplete, ask again`,
    { code: "stream_interrupted", cause: error },
  );
}

function logFailed(deps: CompletionsDependencies, request: CompletionsRequest, started: number, error: unknown): void {
  logFailedOpenAICall(
    deps.logger,
    { operation: "completions", deployment: request.deployment, latencyInMs: performance.now() - started },
    classifyError(error),
  );
}

/**
 * The Responses API against Azure OpenAI through the shared client: create (streamed or not),
 * retrieve, delete and list input items. Free of the Functions runtime: the handler passes the
 * client, a logger and the caller's AbortSignal, so a caller who hangs up cancels the upstream
 * request at once. Each call is made once (the shared client never retries; HTTP callers retry
 * themselves, as for chat).
 *
 * On the dated API style the Responses API exists only from api-version 2025-03-01-preview: with
 * an older AZURE_OPENAI_API_VERSION these calls ask for RESPONSES_API_VERSION instead (the v1
 * style needs no version).
 */
import type { OpenAI } from "openai";
import type { Response as OpenAIResponse, ResponseCreateParams, ResponseStreamEvent } from "openai/resources/responses/responses";
import type { OpenAIConfig } from "../config.js";
import { brokenStreamError, inStreamError, readUpstreamEvents, type UpstreamEvent } from "../http/upstream-sse.js";
import type { Logger } from "../logging.js";
import { loggedCall, openLoggedStream, responsesUsage, type CallDescription } from "../openai/call-log.js";
import type { ResponsesRequest } from "./responses-request.js";

/** The dated api-version asked for when the configured one predates the Responses API. */
export const RESPONSES_API_VERSION = "2025-04-01-preview";
/** The first dated api-version with the Responses API. */
const FIRST_RESPONSES_API_VERSION = "2025-03-01-preview";

export interface ResponsesDependencies {
  client: OpenAI;
  logger: Logger;
  /** Told the usage of each call Azure answered (src/openai/call-log.ts), for per-caller token limits. */
  onUsage?: CallDescription["onUsage"];
  /** Longest silence between two streamed events (after the first) before the stream ends with an error; none when unset. */
  streamIdleTimeoutInMs?: number;
  /** `api-version` to send instead of the configured one (responsesApiVersion). */
  apiVersion?: string;
}

/** The api-version override the Responses API needs under this configuration, if any. */
export function responsesApiVersion(config: Pick<OpenAIConfig, "apiStyle" | "apiVersion">): string | undefined {
  if (config.apiStyle !== "dated") return undefined;
  // Dated versions are ISO dates with an optional -preview: string order is date order.
  return config.apiVersion < FIRST_RESPONSES_API_VERSION ? RESPONSES_API_VERSION : undefined;
}

/** Events after which a Responses stream is complete. */
const TERMINAL_EVENTS = new Set(["response.completed", "response.incomplete", "response.failed"]);

/**
 * One non-streamed response, returned as Azure sent it.
 * @throws the client's error (APIError, APIConnectionError, APIUserAbortError); classify it with classifyError.
 */
export function createResponse(deps: ResponsesDependencies, request: ResponsesRequest, signal: AbortSignal): Promise<OpenAIResponse> {
  const params = { ...request.body, model: request.deployment, stream: false } as ResponseCreateParams & { stream: false };
  return loggedCall(
    deps.logger,
    { operation: "responses", deployment: request.deployment, onUsage: deps.onUsage },
    () => deps.client.responses.create(params, requestOptions(deps, signal)).withResponse(),
    (data) => responsesUsage(data.usage),
  );
}

/**
 * Opens a streamed response: resolves once Azure has accepted the request (its response headers
 * arrived), so refusals (429, 400, 401...) can still be answered with a proper status code. The
 * returned iterable yields Azure's events as they arrive and logs the call when it ends. Aborting
 * `signal` ends it early and releases the upstream connection.
 * @throws (the promise) the client's error when Azure refuses the request or can't be reached;
 *   (the iteration) AppError when Azure reports an error midway, or the body's error when the
 *   stream breaks before its terminal event.
 */
export function openResponseStream(
  deps: ResponsesDependencies,
  request: ResponsesRequest,
  signal: AbortSignal,
): Promise<AsyncIterable<ResponseStreamEvent>> {
  const params = { ...request.body, model: request.deployment, stream: true } as ResponseCreateParams & { stream: true };
  return openLoggedStream(
    deps.logger,
    { operation: "responses stream", deployment: request.deployment, onUsage: deps.onUsage },
    signal,
    // The raw response, read with the shared upstream reader (src/http/upstream-sse.ts says why).
    () => deps.client.responses.create(params, requestOptions(deps, signal)).asResponse(),
    async function* (response, reportUsage) {
      try {
        const events = readUpstreamEvents(response, signal, {
          read: readResponseEvent,
          lastEventName: "response.completed",
          idleTimeoutInMs: deps.streamIdleTimeoutInMs,
        });
        for await (const event of events) {
          if (TERMINAL_EVENTS.has(event.type)) {
            const usage = (event as { response?: OpenAIResponse }).response?.usage;
            reportUsage(responsesUsage(usage));
          }
          yield event;
        }
      } catch (error) {
        throw brokenStreamError(error);
      }
    },
  );
}

/**
 * GET /responses/{id}, DELETE /responses/{id} and GET /responses/{id}/input_items, answered with
 * Azure's own status, content type and body.
 * @throws the client's error; classify it with classifyError.
 */
export function forwardResponseRequest(
  deps: ResponsesDependencies,
  call: { method: "get" | "delete"; path: string; query?: Record<string, unknown> },
  signal: AbortSignal,
): Promise<{ status: number; contentType: string | null; body: string }> {
  const operation = `responses ${call.method.toUpperCase()} ${call.path.replace(/^\/responses\/[^/]+/, "/responses/{id}")}`;
  return loggedCall(deps.logger, { operation, deployment: "-" }, async () => {
    const options = requestOptions(deps, signal, call.query);
    const response = await (
      call.method === "get" ? deps.client.get(call.path, options) : deps.client.delete(call.path, options)
    ).asResponse();
    return { data: { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }, response };
  });
}

function requestOptions(deps: ResponsesDependencies, signal: AbortSignal, query: Record<string, unknown> = {}) {
  return { signal, query: deps.apiVersion ? { ...query, "api-version": deps.apiVersion } : query };
}

function readResponseEvent(data: string): UpstreamEvent<ResponseStreamEvent> {
  const parsed = JSON.parse(data) as Partial<ResponseStreamEvent> & { error?: unknown };
  // Azure's failure midway: an `error` event (OpenAI's shape), or an `{"error": ...}` object.
  if (parsed.type === "error") return { error: inStreamError(parsed) };
  if (parsed.type === undefined) return { error: inStreamError(parsed.error ?? parsed) };
  const event = parsed as ResponseStreamEvent;
  return { event, last: TERMINAL_EVENTS.has(event.type) };
}

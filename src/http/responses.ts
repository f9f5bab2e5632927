/**
 * Plain response descriptions, structurally compatible with `@azure/functions`' HttpResponseInit,
 * so the code that builds them stays free of the Functions runtime and is testable on its own.
 */

export interface JsonResponse {
  status: number;
  headers: Record<string, string>;
  jsonBody: unknown;
}

/** Responses carry data produced for this caller only: never cache them anywhere. */
const NO_STORE = { "cache-control": "no-store" } as const;

/** A JSON response with `content-type: application/json` and `cache-control: no-store`. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): JsonResponse {
  return { status, jsonBody: body, headers: { "content-type": "application/json", ...NO_STORE, ...headers } };
}

/** Headers of a Server-Sent Events response, as OpenAI sends them (plus no proxy buffering). */
export function sseHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    "content-type": "text/event-stream; charset=utf-8",
    ...NO_STORE,
    // Tells nginx-style reverse proxies (and Azure Front Door rules that honour it) not to buffer the stream.
    "x-accel-buffering": "no",
    ...extra,
  };
}

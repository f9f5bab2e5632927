/**
 * The `openai` client's transport for streamed answers: undici's `request` API instead of fetch.
 *
 * The client still builds and authenticates every request (URL, headers, key or Entra token,
 * timeout, error statuses, connection errors): it only calls this in place of fetch. A request
 * marked with STREAM_BODY_AS_NODE_STREAM goes through `undici.request` (the library behind Node's
 * fetch, without fetch's WHATWG layers), and a 2xx answer's body stays a Node stream, handed to
 * the reader (src/http/upstream-sse.ts) through nodeBodyOf. Per streamed chunk that skips fetch's
 * web stream, its reader's promises and a TextDecoder; per stream, fetch's Request/Response
 * machinery. Measured side by side on the local host at 16 streams (issue #22): host CPU per
 * 20-chunk stream from 22.7 to 19.2 ms (medians of four rounds; the do-nothing floor 13-16). Every other request, and every answer that is not 2xx, is an ordinary
 * fetch Response, so the client reads error bodies as usual.
 *
 * Weighed and rejected: a transport of our own on `node:http` (a hand-written HTTP client to
 * maintain: redirects, keep-alive, proxies, header validation); undici's `stream`/`dispatch`
 * APIs (no gain over `request` for a body read once, and a lower-level contract); a dispatcher
 * alone under Node's fetch (fetch's web streams remain, which is where the time goes).
 */
import { request } from "undici";
import { isMarked, setNodeBody } from "./stream-body.js";

type UndiciRequest = typeof import("undici").request;
/**
 * A fetch for the `openai` client: marked requests with a string body through undici's `request`,
 * everything else through `fallback`.
 */
export function createStreamTransport(request: UndiciRequest, fallback: typeof fetch): typeof fetch {
  return async (input, init) => {
    const marked = isMarked(init);
    if (!marked || typeof init.body !== "string") return fallback(input, init);
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const answer = await request(url, {
      method: (init.method ?? "POST") as "POST",
      headers: Object.fromEntries(new Headers(init.headers)),
      body: init.body,
      // The client's own signal: its timeout before the headers, the caller's abort at any time
      // (undici then destroys the body, which ends the reader's iteration).
      signal: init.signal ?? undefined,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const item of value) headers.append(name, item);
      else if (value !== undefined) headers.set(name, value);
    }
    if (answer.statusCode < 200 || answer.statusCode > 299) {
      // A refusal (429, 400, 401...): a small JSON body the client reads whole for its APIError.
      const text = await answer.body.text();
      return new Response(text, { status: answer.statusCode, headers });
    }
    const response = new Response(null, { status: answer.statusCode, headers });
    setNodeBody(response, answer.body);
    return response;
  };
}

/** createStreamTransport with undici's own `request`: what the app's client uses. */
export function createUndiciStreamTransport(fallback: typeof fetch): typeof fetch {
  return createStreamTransport(request, fallback);
}

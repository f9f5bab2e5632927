/**
 * The `openai` client's transport for streamed answers: undici's `request` API instead of fetch.
 *
 * The client still builds and authenticates every request (URL, headers, key or Entra token,
 * timeout, error statuses, connection errors): it only calls this in place of fetch. A request
 * marked with STREAM_BODY_AS_NODE_STREAM goes through `undici.request` (the library behind Node's
 * fetch, without fetch's WHATWG layers), and a 2xx answer's body stays a Node stream, handed to
 * the reader (src/http/upstream-sse.ts) through nodeBodyOf. Per streamed chunk that skips fetch's
 * web stream, its reader's promises and a TextDecoder; per stream, fetch's Request/Response
 * machinery. Measured side by side (bench/chat-streaming.ts, issue #22): about 4 ms less host CPU
 * per 20-chunk stream. Every other request, and every answer that is not 2xx, is an ordinary
 * fetch Response, so the client reads error bodies as usual.
 *
 * Weighed and rejected: a transport of our own on `node:http` (a hand-written HTTP client to
 * maintain: redirects, keep-alive, proxies, header validation); undici's `stream`/`dispatch`
 * APIs (no gain over `request` for a body read once, and a lower-level contract); a dispatcher
 * alone under Node's fetch (fetch's web streams remain, which is where the time goes).
 */
import type { Readable } from "node:stream";
import type { OpenAI } from "openai";

type UndiciRequest = typeof import("undici").request;
/** The client's per-request `fetchOptions` (spread into the RequestInit it gives its fetch). */
type FetchOptions = NonNullable<NonNullable<Parameters<OpenAI["chat"]["completions"]["create"]>[1]>["fetchOptions"]>;

/** The RequestInit key that marks a request whose answer is read as a stream (see nodeBodyOf). */
const NODE_STREAM_KEY = "azureOpenAIFunctionsNodeStreamBody";

/**
 * Per-request fetch options for a streamed call: `client.create(params, { signal, fetchOptions: STREAM_BODY_AS_NODE_STREAM })`.
 * Transports other than this one (a test's fetch) ignore the key and answer as usual.
 */
export const STREAM_BODY_AS_NODE_STREAM = Object.freeze({ [NODE_STREAM_KEY]: true }) as unknown as FetchOptions;

/** Bodies of the answers this transport gave, by the Response the client saw. */
const nodeBodies = new WeakMap<Response, Readable>();

/**
 * The body of a streamed answer as a Node stream, when this transport made the call; undefined
 * for any other Response (its `body` is the web stream then).
 */
export function nodeBodyOf(response: Response): Readable | undefined {
  return nodeBodies.get(response);
}

/**
 * A fetch for the `openai` client: marked requests with a string body through undici's `request`,
 * everything else through `fallback`.
 */
export function createStreamTransport(request: UndiciRequest, fallback: typeof fetch): typeof fetch {
  return async (input, init) => {
    const marked = init !== undefined && (init as Record<string, unknown>)[NODE_STREAM_KEY] === true;
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
    nodeBodies.set(response, answer.body);
    return response;
  };
}

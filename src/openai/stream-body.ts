/**
 * How a streamed answer's body gets from the client's transport (stream-transport.ts) to the
 * reader (src/http/upstream-sse.ts) as a Node stream: the mark a call carries, and the bodies by
 * the Response the client saw. Apart from the transport so that the reader's module does not
 * load undici: the transport is loaded on first use, with the client.
 */
import type { Readable } from "node:stream";
import type { OpenAI } from "openai";

/** The client's per-request `fetchOptions` (spread into the RequestInit it gives its fetch). */
type FetchOptions = NonNullable<NonNullable<Parameters<OpenAI["chat"]["completions"]["create"]>[1]>["fetchOptions"]>;

/** The RequestInit key that marks a request whose answer is read as a stream (see nodeBodyOf). */
const NODE_STREAM_KEY = "azureOpenAIFunctionsNodeStreamBody";

/**
 * Per-request fetch options for a streamed call: `client.create(params, { signal, fetchOptions: STREAM_BODY_AS_NODE_STREAM })`.
 * Transports other than stream-transport.ts (a test's fetch) ignore the key and answer as usual.
 */
export const STREAM_BODY_AS_NODE_STREAM = Object.freeze({ [NODE_STREAM_KEY]: true }) as unknown as FetchOptions;

/** Bodies of the answers stream-transport.ts gave, by the Response the client saw. */
const nodeBodies = new WeakMap<Response, Readable>();

/** Records `body` as the Node stream of `response`'s body (the transport's side of nodeBodyOf). */
export function setNodeBody(response: Response, body: Readable): void {
  nodeBodies.set(response, body);
}

/**
 * The body of a streamed answer as a Node stream, when stream-transport.ts made the call; undefined
 * for any other Response (its `body` is the web stream then).
 */
export function nodeBodyOf(response: Response): Readable | undefined {
  return nodeBodies.get(response);
}

/** Whether a RequestInit carries the mark of STREAM_BODY_AS_NODE_STREAM. */
export function isMarked(init: RequestInit | undefined): init is RequestInit {
  return init !== undefined && (init as Record<string, unknown>)[NODE_STREAM_KEY] === true;
}

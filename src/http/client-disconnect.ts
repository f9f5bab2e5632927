/**
 * Notices when an HTTP caller goes away, so the app stops paying for tokens nobody will read.
 *
 * With `enableHttpStream`, the Functions host forwards each HTTP request to a small HTTP server
 * inside the Node worker (the `@azure/functions` library's proxy), tagged with the header
 * `x-ms-invocation-id`. When the caller disconnects, the host drops that forwarded request. The
 * library does not tell the handler: it keeps reading the response stream and writing into a
 * closed socket. Node's public diagnostics channel `http.server.request.start` shows us every
 * request that server receives, so we watch the forwarded response of each invocation and turn
 * its premature `close` into an AbortSignal the handler passes to the upstream call.
 */
import { subscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";

const INVOCATION_ID_HEADER = "x-ms-invocation-id";

interface Watch {
  controller: AbortController;
  /** The invocation has asked for its signal. */
  claimed: boolean;
  /** Forget the entry if the invocation never asks for its signal (e.g. other triggers' requests). */
  expiry: NodeJS.Timeout | undefined;
}

const watches = new Map<string, Watch>();
let subscribed = false;

/** How long an unclaimed entry is kept; an invocation claims it right after its request arrives. */
const UNCLAIMED_TTL_IN_MS = 10 * 60 * 1000;
/**
 * How long the entry of a caller who left before the invocation claimed it is kept, so the claim
 * (made once the handler runs, at most seconds later) still sees the abort.
 */
const ABANDONED_TTL_IN_MS = 60 * 1000;

function watchForwardedRequest(message: unknown): void {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  const invocationId = request.headers[INVOCATION_ID_HEADER];
  if (typeof invocationId !== "string") return;
  const watch = entryFor(invocationId);
  response.once("close", () => {
    // `close` after the last byte is the normal end; before it, the caller (or the host) went away.
    if (response.writableFinished) return forget(invocationId);
    watch.controller.abort(new Error("The HTTP caller disconnected"));
    // Not claimed yet (the handler has not started): keep the aborted entry a little, so it learns.
    if (watch.claimed) forget(invocationId);
    else rearm(invocationId, watch, ABANDONED_TTL_IN_MS);
  });
}

function entryFor(invocationId: string): Watch {
  let watch = watches.get(invocationId);
  if (!watch) {
    watch = { controller: new AbortController(), claimed: false, expiry: undefined };
    rearm(invocationId, watch, UNCLAIMED_TTL_IN_MS);
    watches.set(invocationId, watch);
  }
  return watch;
}

function rearm(invocationId: string, watch: Watch, ttlInMs: number): void {
  clearTimeout(watch.expiry);
  watch.expiry = setTimeout(() => forget(invocationId), ttlInMs);
  watch.expiry.unref();
}

function forget(invocationId: string): void {
  const watch = watches.get(invocationId);
  if (!watch) return;
  clearTimeout(watch.expiry);
  watches.delete(invocationId);
}

/**
 * Starts watching the worker's HTTP proxy. Call once at startup, before requests arrive
 * (importing a function module that uses {@link callerGoneSignal} is enough). Idempotent.
 */
export function watchCallerDisconnects(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe("http.server.request.start", watchForwardedRequest);
}

/**
 * An AbortSignal that fires when the caller of this invocation disconnects before the response
 * was completely sent. Outside the streaming proxy (unit tests, non-HTTP triggers) it never
 * fires on its own. Never throws.
 */
export function callerGoneSignal(invocationId: string): AbortSignal {
  watchCallerDisconnects();
  const watch = entryFor(invocationId);
  watch.claimed = true;
  // The caller already left (before the handler ran): nothing more will happen to this entry.
  if (watch.controller.signal.aborted) forget(invocationId);
  return watch.controller.signal;
}

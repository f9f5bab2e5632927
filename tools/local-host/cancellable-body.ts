/**
 * Client disconnects and streamed responses.
 *
 * The library drains the handler's response stream into its HTTP proxy, but its (down-levelled)
 * `for await` loop never calls `return()` when a write fails, so the handler's stream is left
 * un-pulled instead of cancelled. The host therefore relays the body through a pass-through
 * stream it can cancel: on disconnect the handler's stream gets `cancel()` (what a handler using
 * the `openai` SDK needs to abort its upstream request). Content and pacing are unchanged
 * (highWaterMark 0: nothing is read ahead of the consumer).
 */

/** A handler's result whose body stream the host can cancel when the client leaves. */
export interface CancellableResult {
  result: unknown;
  /** Cancels the handler's stream, if the result had one. */
  cancel(reason: Error): void;
}

export function makeBodyCancellable(result: unknown): CancellableResult {
  if (!result || typeof result !== "object") return { result, cancel: () => undefined };
  const candidate = result as { body?: unknown; status?: unknown; headers?: unknown; cookies?: unknown };
  const original = candidate.body;
  if (!(original instanceof ReadableStream) || original.locked) return { result, cancel: () => undefined };

  const reader = (original as ReadableStream<unknown>).getReader();
  let cancelled = false;
  const relay = new ReadableStream<unknown>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        cancelled = true;
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  // A plain init object keeps all its fields; an HttpResponse is re-expressed as the init it
  // stands for (status, headers, cookies), which the library turns back into an HttpResponse.
  const isPlain = Object.getPrototypeOf(result) === Object.prototype;
  const adapted = isPlain
    ? { ...(result as Record<string, unknown>), body: relay }
    : { status: candidate.status, headers: candidate.headers, cookies: candidate.cookies, body: relay };
  return {
    result: adapted,
    cancel(reason) {
      if (cancelled) return;
      cancelled = true;
      reader.cancel(reason).catch(() => undefined);
    },
  };
}

/**
 * Server-Sent Events in OpenAI's exact framing. Chat completions (the default): each chunk is
 * `data: {json}\n\n`, the end is `data: [DONE]\n\n`, and a failure after the response has started
 * becomes one final `data: {"error": {...}}` event (the `openai` client throws it as an APIError)
 * with no `[DONE]`. The Responses API: each event is `event: {type}\ndata: {json}\n\n` and the
 * stream ends with its terminal event, a failure with an `error` event (encodeSseEvent, no end
 * marker). While nothing is produced for `keepAliveInMs`, a comment line (`: keep-alive\n\n`)
 * keeps proxies and load balancers from closing an idle connection; SSE clients, including the
 * `openai` package, ignore comments.
 */

const encoder = new TextEncoder();

/**
 * The JSON text an upstream event arrived as, by the object parsed from it: an event passed on
 * unchanged is sent as Azure's own text, without serialising it again (a tenth of the app's CPU
 * per chunk). Objects are never changed in place on the way (changes make new objects, which have
 * no entry), so an entry always matches its object.
 */
const jsonTexts = new WeakMap<object, string>();

/** Records that `value` was parsed from `text` (single-line JSON only: it becomes one data line). */
export function rememberJsonText(value: unknown, text: string): void {
  if (typeof value === "object" && value !== null && !text.includes("\n")) jsonTexts.set(value, text);
}

/** The JSON text `value` was parsed from, if rememberJsonText recorded it. */
export function jsonTextOf(value: unknown): string | undefined {
  return typeof value === "object" && value !== null ? jsonTexts.get(value) : undefined;
}

/** `data: {json}\n\n`. JSON.stringify never emits raw newlines, so one data line always suffices. */
export function encodeSseData(value: unknown): Uint8Array {
  return encoder.encode(`data: ${jsonTextOf(value) ?? JSON.stringify(value)}\n\n`);
}

/** `event: {type}\ndata: {json}\n\n`: the Responses API's framing, the event named after its `type`. */
export function encodeSseEvent(value: { type: string }): Uint8Array {
  return encoder.encode(`event: ${value.type}\ndata: ${JSON.stringify(value)}\n\n`);
}

export const SSE_DONE: Uint8Array = encoder.encode("data: [DONE]\n\n");
export const SSE_KEEP_ALIVE: Uint8Array = encoder.encode(": keep-alive\n\n");

export interface SseStreamOptions<T> {
  /** The events to send, in order; may wait before its first item (it is awaited inside the stream). */
  events: AsyncIterable<T>;
  /** Idle time after which a keep-alive comment is sent; 0 disables keep-alives. */
  keepAliveInMs: number;
  /** Send a keep-alive comment at once (the first event is known to be slow): the caller gets bytes now. */
  keepAliveAtStart?: boolean;
  /** Maps a failure of `events` to the final error event (encoded like the others). Must not throw. */
  describeError: (error: unknown) => unknown;
  /** Bytes of one event; default chat's `data: {json}` (encodeSseData). */
  encode?: (event: T | unknown) => Uint8Array;
  /** Bytes after the last event: default chat's `data: [DONE]`; null for none. */
  endMarker?: Uint8Array | null;
  /** Called once when the reader goes away before the end (the caller aborts the upstream request). */
  onCancel?: () => void;
  /** Called once when the stream is finished, whichever way (after the last byte was queued). */
  onEnd?: (outcome: "done" | "error" | "cancelled", error?: unknown) => void;
}

/**
 * A byte stream of SSE events that sends each event as soon as `events` yields it (no batching).
 * Never errors: failures are turned into the final error event.
 *
 * Pull-based: the next event is asked of `events` only when the reader has taken the previous one
 * (one event of read-ahead), so a slow reader slows the upstream read instead of growing a queue
 * here. This holds as far as the reader honours backpressure: the Functions library's HTTP proxy
 * (@azure/functions 4.16) writes each chunk to its response without waiting for it to drain
 * (Azure/azure-functions-nodejs-library#294), so behind it the chunks queue there instead.
 */
export function createSseStream<T>(options: SseStreamOptions<T>): ReadableStream<Uint8Array> {
  const encode = options.encode ?? encodeSseData;
  const endMarker = options.endMarker === undefined ? SSE_DONE : options.endMarker;
  let iterator: AsyncIterator<T> | undefined;
  let keepAliveTimer: NodeJS.Timeout | undefined;
  let armKeepAlive = () => {};
  // A pull is waiting for the next event: the only time the caller can be left without bytes.
  let waiting = false;
  let cancelled = false;
  let ended = false;
  const end = (outcome: "done" | "error" | "cancelled", error?: unknown) => {
    if (ended) return;
    ended = true;
    clearTimeout(keepAliveTimer);
    options.onEnd?.(outcome, error);
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // start() returns at once, so the response (headers) can go out now.
        if (options.keepAliveAtStart) controller.enqueue(SSE_KEEP_ALIVE);
        if (options.keepAliveInMs <= 0) return;
        // One timer per stream, re-armed (refresh(), no new timer) whenever a wait for an event
        // begins, i.e. when the reader has taken what was queued.
        armKeepAlive = () => {
          if (keepAliveTimer) {
            keepAliveTimer.refresh();
            return;
          }
          keepAliveTimer = setTimeout(function sendKeepAlive() {
            // Not waiting: the reader has an event queued, or is gone. The next pull re-arms.
            if (ended || !waiting) return;
            // Only into an empty queue: a keep-alive the reader has not taken yet is enough.
            if ((controller.desiredSize ?? 0) > 0) controller.enqueue(SSE_KEEP_ALIVE);
            keepAliveTimer?.refresh();
          }, options.keepAliveInMs);
        };
      },
      async pull(controller) {
        waiting = true;
        armKeepAlive();
        try {
          iterator ??= options.events[Symbol.asyncIterator]();
          const next = await iterator.next();
          waiting = false;
          if (cancelled) return; // while waiting
          if (!next.done) {
            controller.enqueue(encode(next.value));
            return;
          }
          if (endMarker) controller.enqueue(endMarker);
          controller.close();
          end("done");
        } catch (error) {
          waiting = false;
          if (cancelled) return;
          controller.enqueue(encode(options.describeError(error)));
          controller.close();
          end("error", error);
        }
      },
      cancel() {
        cancelled = true;
        options.onCancel?.();
        end("cancelled");
        // Lets a generator run its finally blocks (e.g. release the upstream connection); after a
        // pending next(), which onCancel's abort ends.
        void iterator?.return?.().catch(() => undefined);
      },
    },
    // Pull only when nothing is queued: one event ahead of the reader at most.
    new CountQueuingStrategy({ highWaterMark: 1 }),
  );
}

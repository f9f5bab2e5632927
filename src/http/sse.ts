/**
 * Server-Sent Events in OpenAI's exact framing: each chunk is `data: {json}\n\n`, the end is
 * `data: [DONE]\n\n`. While nothing is produced for `keepAliveInMs`, a comment line
 * (`: keep-alive\n\n`) keeps proxies and load balancers from closing an idle connection; SSE
 * clients, including the `openai` package, ignore comments. A failure after the response has
 * started becomes one final `data: {"error": {...}}` event (the `openai` client throws it as an
 * APIError), and the stream ends without `[DONE]`.
 */
import type { OpenAIErrorBody } from "./openai-error.js";

const encoder = new TextEncoder();

/** `data: {json}\n\n`. JSON.stringify never emits raw newlines, so one data line always suffices. */
export function encodeSseData(value: unknown): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(value)}\n\n`);
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
  /** Maps a failure of `events` to the final error event. Must not throw. */
  describeError: (error: unknown) => OpenAIErrorBody;
  /** Called once when the reader goes away before the end (the caller aborts the upstream request). */
  onCancel?: () => void;
  /** Called once when the stream is finished, whichever way (after the last byte was queued). */
  onEnd?: (outcome: "done" | "error" | "cancelled", error?: unknown) => void;
}

/**
 * A byte stream of SSE events that sends each event as soon as `events` yields it (no batching).
 * Never errors: failures are turned into the final error event.
 */
export function createSseStream<T>(options: SseStreamOptions<T>): ReadableStream<Uint8Array> {
  let cancelled = false;
  let iterator: AsyncIterator<T> | undefined;
  let keepAliveTimer: NodeJS.Timeout | undefined;
  let ended = false;
  const end = (outcome: "done" | "error" | "cancelled", error?: unknown) => {
    if (ended) return;
    ended = true;
    clearTimeout(keepAliveTimer);
    options.onEnd?.(outcome, error);
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      // One timer per stream, pushed back on every event (refresh() re-arms it without a new timer).
      const armKeepAlive = () => {
        if (options.keepAliveInMs <= 0) return;
        if (keepAliveTimer) {
          keepAliveTimer.refresh();
          return;
        }
        keepAliveTimer = setTimeout(function sendKeepAlive() {
          if (cancelled || ended) return;
          controller.enqueue(SSE_KEEP_ALIVE);
          keepAliveTimer?.refresh();
        }, options.keepAliveInMs);
      };
      // Pump in the background: start() must return so the response (headers) can go out now.
      void (async () => {
        if (options.keepAliveAtStart) controller.enqueue(SSE_KEEP_ALIVE);
        armKeepAlive();
        try {
          iterator = options.events[Symbol.asyncIterator]();
          for (;;) {
            const next = await iterator.next();
            if (cancelled) return;
            if (next.done) break;
            controller.enqueue(encodeSseData(next.value));
            armKeepAlive();
          }
          controller.enqueue(SSE_DONE);
          controller.close();
          end("done");
        } catch (error) {
          if (cancelled) return;
          controller.enqueue(encodeSseData(options.describeError(error)));
          controller.close();
          end("error", error);
        }
      })();
    },
    cancel() {
      cancelled = true;
      options.onCancel?.();
      end("cancelled");
      // Lets a generator run its finally blocks (e.g. release the upstream connection).
      void iterator?.return?.().catch(() => undefined);
    },
  });
}

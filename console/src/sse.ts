/**
 * Reads a server-sent events response body event by event, with eventsource-parser (already the
 * app's SSE parser, about 1 KB): the `openai` client would do the same in some 30 KB more.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: EventSourceMessage) => void): Promise<void> {
  const parser = createParser({ onEvent });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parser.feed(decoder.decode(value, { stream: true }));
  }
}

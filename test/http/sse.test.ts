import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { BadInputError } from "../../src/errors.js";
import { describeError } from "../../src/http/error-response.js";
import { createSseStream, encodeSseData } from "../../src/http/sse.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Received {
  events: { data: string; at: number }[];
  comments: { text: string; at: number }[];
  raw: string;
}

/** Reads an SSE byte stream with eventsource-parser, timestamping every event and comment. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Received> {
  const started = performance.now();
  const received: Received = { events: [], comments: [], raw: "" };
  const parser = createParser({
    onEvent: (event: EventSourceMessage) => received.events.push({ data: event.data, at: performance.now() - started }),
    onComment: (text) => received.comments.push({ text, at: performance.now() - started }),
  });
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    const text = decoder.decode(bytes, { stream: true });
    received.raw += text;
    parser.feed(text);
  }
  return received;
}

async function* paced<T>(items: T[], delayInMs: number, firstDelayInMs = delayInMs): AsyncGenerator<T> {
  let first = true;
  for (const item of items) {
    await sleep(first ? firstDelayInMs : delayInMs);
    first = false;
    yield item;
  }
}

describe("encodeSseData", () => {
  it("frames JSON as one data line, even when strings contain newlines", () => {
    const text = new TextDecoder().decode(encodeSseData({ content: "a\nb\r\nc" }));
    expect(text).toBe('data: {"content":"a\\nb\\r\\nc"}\n\n');
  });
});

describe("createSseStream", () => {
  it("sends OpenAI's framing: data events then data: [DONE]", async () => {
    const stream = createSseStream({
      events: paced([{ n: 1 }, { n: 2 }], 0),
      keepAliveInMs: 0,
      describeError: (e) => describeError(e).body,
    });
    const received = await readAll(stream);
    expect(received.raw).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
  });

  it("sends each event when it is produced, not in batches", async () => {
    const stream = createSseStream({ events: paced([1, 2, 3, 4], 60), keepAliveInMs: 0, describeError: (e) => describeError(e).body });
    const { events } = await readAll(stream);
    const gaps = events.slice(1, 4).map((e, i) => e.at - events[i]!.at);
    for (const gap of gaps) expect(gap).toBeGreaterThan(40);
  });

  it("sends keep-alive comments while the first event is slow, and only then", async () => {
    const stream = createSseStream({ events: paced(["a", "b"], 10, 260), keepAliveInMs: 100, describeError: (e) => describeError(e).body });
    const { events, comments } = await readAll(stream);
    expect(comments.length).toBe(2);
    expect(comments.every((c) => c.text.trim() === "keep-alive")).toBe(true);
    expect(comments.every((c) => c.at < events[0]!.at)).toBe(true);
    expect(events.map((e) => e.data)).toEqual(['"a"', '"b"', "[DONE]"]);
  });

  it("pushes the keep-alive back on every event, sends one in a long gap mid-stream, and none after the end", async () => {
    // Events every 60 ms with a 100 ms keep-alive: no comment; then a 230 ms gap: two comments.
    const stream = createSseStream({
      events: (async function* () {
        yield* paced([1, 2, 3, 4], 60);
        await sleep(230);
        yield 5;
      })(),
      keepAliveInMs: 100,
      describeError: (e) => describeError(e).body,
    });
    const { events, comments } = await readAll(stream);
    expect(events.map((e) => e.data)).toEqual(["1", "2", "3", "4", "5", "[DONE]"]);
    expect(comments).toHaveLength(2);
    for (const comment of comments) expect(comment.at).toBeGreaterThan(events[3]!.at);
    // The timer is gone with the stream: a late keep-alive would throw on the closed stream.
    await sleep(250);
  });

  it("can send a keep-alive comment at once, before anything else", async () => {
    const stream = createSseStream({
      events: paced(["a"], 0),
      keepAliveInMs: 0,
      keepAliveAtStart: true,
      describeError: (e) => describeError(e).body,
    });
    const { raw } = await readAll(stream);
    expect(raw).toBe(': keep-alive\n\ndata: "a"\n\ndata: [DONE]\n\n');
  });

  it("turns a failure midway into one final OpenAI-shaped error event, without [DONE]", async () => {
    async function* failing() {
      yield { n: 1 };
      throw new BadInputError("boom: fix the input", { param: "messages", code: "invalid_value" });
    }
    const ends: string[] = [];
    const stream = createSseStream({
      events: failing(),
      keepAliveInMs: 0,
      describeError: (e) => describeError(e).body,
      onEnd: (outcome) => ends.push(outcome),
    });
    const { events } = await readAll(stream);
    expect(events.map((e) => e.data)).toHaveLength(2);
    expect(JSON.parse(events[1]!.data)).toEqual({
      error: { message: "boom: fix the input", type: "invalid_request_error", param: "messages", code: "invalid_value" },
    });
    expect(ends).toEqual(["error"]);
  });

  it("reads the events only as fast as the caller reads them (backpressure): a slow reader keeps the producer one event ahead", async () => {
    const total = 200;
    let produced = 0;
    async function* fast() {
      for (let n = 1; n <= total; n++) {
        // A macrotask per event, like chunks arriving from a socket, and so the test's timers run.
        await new Promise((resolve) => setImmediate(resolve));
        produced = n;
        yield n;
      }
    }
    const stream = createSseStream({ events: fast(), keepAliveInMs: 0, describeError: (e) => describeError(e).body });
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    // Nobody reads yet: only the one event of read-ahead is produced, not the whole upstream.
    await sleep(100);
    expect(produced).toBe(1);
    // A slow reader: the producer follows it, at most one event ahead.
    for (let read = 1; read <= 10; read++) {
      const { value } = await reader.read();
      expect(decoder.decode(value)).toBe(`data: ${read}\n\n`);
      await sleep(10);
      expect(produced).toBeLessThanOrEqual(read + 1);
    }
    // Nothing is lost or reordered: the rest follows, then [DONE].
    let rest = "";
    for (let next = await reader.read(); !next.done; next = await reader.read()) rest += decoder.decode(next.value);
    const expected = Array.from({ length: total - 10 }, (_, i) => `data: ${i + 11}\n\n`).join("");
    expect(rest).toBe(`${expected}data: [DONE]\n\n`);
    expect(produced).toBe(total);
  });

  it("sends one keep-alive while the upstream is idle and the caller is not reading, not one per interval", async () => {
    // Keep-alives every 20 ms, the first event at 300 ms, the caller reads only from 400 ms on.
    const stream = createSseStream({ events: paced(["a"], 0, 300), keepAliveInMs: 20, describeError: (e) => describeError(e).body });
    await sleep(400);
    const { raw } = await readAll(stream);
    // What waited for the caller: one keep-alive (sent while nothing was queued), then the event.
    expect(raw.startsWith(': keep-alive\n\ndata: "a"\n\n')).toBe(true);
    expect(raw.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("a reader who leaves while the producer waits for it releases the upstream at once", async () => {
    let produced = 0;
    let finalized = false;
    async function* endless() {
      try {
        for (;;) {
          await new Promise((resolve) => setImmediate(resolve));
          produced++;
          yield produced;
        }
      } finally {
        finalized = true;
      }
    }
    let cancels = 0;
    const ends: string[] = [];
    const stream = createSseStream({
      events: endless(),
      keepAliveInMs: 0,
      describeError: (e) => describeError(e).body,
      onCancel: () => cancels++,
      onEnd: (outcome) => ends.push(outcome),
    });
    const reader = stream.getReader();
    await reader.read();
    await reader.read();
    await sleep(20); // the producer is parked at its `yield`, one event ahead
    expect(produced).toBe(3);
    await reader.cancel();
    await sleep(20);
    expect(finalized).toBe(true);
    expect(produced).toBe(3);
    expect(cancels).toBe(1);
    expect(ends).toEqual(["cancelled"]);
  });

  it("stops pulling events and reports the cancellation when the reader goes away", async () => {
    let produced = 0;
    let finalized = false;
    async function* endless() {
      try {
        for (;;) {
          await sleep(5);
          produced++;
          yield produced;
        }
      } finally {
        finalized = true;
      }
    }
    let cancels = 0;
    const stream = createSseStream({
      events: endless(),
      keepAliveInMs: 0,
      describeError: (e) => describeError(e).body,
      onCancel: () => cancels++,
    });
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel();
    const producedAtCancel = produced;
    await sleep(50);
    expect(cancels).toBe(1);
    expect(produced - producedAtCancel).toBeLessThanOrEqual(1);
    expect(finalized).toBe(true);
  });
});

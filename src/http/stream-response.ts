/**
 * The HTTP answer of a streamed operation (chat completions, Responses), shared so both stream the
 * same way: Azure's refusals keep their status codes, events leave as they arrive, keep-alives
 * cover silences, and the caller hanging up stops the upstream work.
 */
import type { HttpResponseInit } from "@azure/functions";
import type { Logger } from "../logging.js";
import { describeError, type ErrorAnswer } from "./error-response.js";
import { sseHeaders } from "./responses.js";
import { createSseStream } from "./sse.js";

/**
 * Idle time before a keep-alive comment: well under the idle timeouts of common proxies and load
 * balancers (60 s and more, Azure's front end 230 s).
 */
export const SSE_KEEP_ALIVE_IN_MS = 15_000;

/**
 * How long we wait for Azure to accept a streamed request before committing to a 200 event stream.
 * Azure's refusals (429, 400 content filter, 401/403) arrive well within it and keep their status
 * codes; a slower start gets the headers and a first keep-alive comment now, so the caller (and any
 * proxy between) sees bytes early, and a later failure arrives as the stream's error event.
 */
export const STREAM_COMMIT_DEADLINE_IN_MS = 1_000;

export interface StreamAnswerOptions {
  /** What the operation is called in log lines, e.g. "Chat completion". */
  label: string;
  logger: Logger;
  secrets: readonly string[];
  /** Called when the runtime stops reading the stream (the caller aborts the upstream request). */
  onCancel: () => void;
  /** The operation's framing (src/http/sse.ts); chat's by default. */
  encode?: (event: unknown) => Uint8Array;
  endMarker?: Uint8Array | null;
  /** The final event for a failure after the 200 went out; chat's OpenAI error body by default. */
  errorEvent?: (answer: ErrorAnswer) => unknown;
  /** Headers known once Azure has answered (the backend that did), read when the 200 goes out. */
  answerHeaders?: () => Record<string, string>;
}

/**
 * Waits (up to STREAM_COMMIT_DEADLINE_IN_MS) for Azure to accept the request, so that a refusal
 * still gets its status code (429, 400...); then sends 200 and the events as they arrive.
 * @throws (the promise) what `opening` rejects with before the deadline: answer it with answerError.
 */
export async function streamAnswer(opening: Promise<AsyncIterable<unknown>>, options: StreamAnswerOptions): Promise<HttpResponseInit> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<"slow">((resolve) => (timer = setTimeout(() => resolve("slow"), STREAM_COMMIT_DEADLINE_IN_MS)));
  let outcome;
  try {
    // Rejects here (-> JSON error with status) when Azure refuses before the deadline.
    outcome = await Promise.race([opening, slow]);
  } finally {
    clearTimeout(timer);
  }
  const body = createSseStream({
    // Usually Azure has answered by now: its events are passed on as they are. Otherwise the
    // stream starts with a keep-alive and waits for them.
    events:
      outcome === "slow"
        ? (async function* () {
            yield* await opening;
          })()
        : outcome,
    keepAliveInMs: SSE_KEEP_ALIVE_IN_MS,
    keepAliveAtStart: outcome === "slow",
    ...(options.encode ? { encode: options.encode } : {}),
    ...(options.endMarker !== undefined ? { endMarker: options.endMarker } : {}),
    describeError: (error) => {
      const answer = describeError(error, options.secrets);
      if (answer.error.kind === "cancelled") options.logger.info(`${options.label} stream cancelled: the caller disconnected`);
      else options.logger.warn(`${options.label} stream ended with an error event (${answer.status}): ${answer.error.message}`);
      return options.errorEvent ? options.errorEvent(answer) : answer.body;
    },
    onCancel: options.onCancel,
  });
  return { status: 200, headers: sseHeaders(options.answerHeaders?.()), body };
}

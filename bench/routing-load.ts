/**
 * The routing benchmark's load generator: streamed chat requests through the app over node:http
 * (a fraction of fetch's CPU per stream, so more of the two shared cores is left to what is
 * measured), each one's outcome as a caller sees it, a caller that retries as the official `openai`
 * client does by default, and an open-loop schedule (requests start at their set times whether or
 * not earlier ones have finished, as independent callers do; a closed loop would slow down exactly
 * when the backends fail and hide the failures).
 */
import http from "node:http";
import { createParser } from "eventsource-parser";

/** One request's answer as its caller saw it. */
export interface Attempt {
  /** HTTP status; 0 when the connection failed before any answer. */
  status: number;
  /** A 200 whose stream ended with `[DONE]`, after its usage chunk, without an error event. */
  ok: boolean;
  /** usage.total_tokens of a complete stream (0 otherwise): the tokens the caller was served. */
  tokens: number;
  /** ms from sending the request to its first content chunk; NaN when none came. */
  firstTokenMs: number;
  /** The app's `x-backend` header: which backend answered. */
  backend: string | undefined;
  /** What a failed answer asked for: `retry-after-ms`, else `retry-after` in ms. */
  retryAfterMs: number | undefined;
  /** The app's `x-should-retry`, which the `openai` client obeys. */
  shouldRetry: string | undefined;
  /** Why it failed, for the log: the status, the error event or the transport error. */
  failure?: string;
  /** When it was sent (performance.now()). */
  sentAt: number;
}

/**
 * Keep-alive, and idle sockets dropped after 4 s, before the local host drops them (5 s): a request
 * sent on a socket the server is closing fails with ECONNRESET, which would count as a failed
 * request (chat-streaming's load agent does the same for the same reason).
 */
const loadAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity, timeout: 4_000 });

/** Sends one streamed chat request and reads its answer to the end. Never rejects: a failure is an outcome. */
export function streamOnce(url: string, body: unknown): Promise<Attempt> {
  const started = performance.now();
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const attempt: Attempt = {
      status: 0,
      ok: false,
      tokens: 0,
      firstTokenMs: Number.NaN,
      backend: undefined,
      retryAfterMs: undefined,
      shouldRetry: undefined,
      sentAt: started,
    };
    let settled = false;
    const settle = (failure?: string) => {
      if (settled) return;
      settled = true;
      if (failure !== undefined) {
        attempt.ok = false;
        attempt.failure = failure;
      }
      resolve(attempt);
    };
    const request = http.request(
      url,
      {
        method: "POST",
        agent: loadAgent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (response) => {
        attempt.status = response.statusCode ?? 0;
        attempt.backend = header(response.headers["x-backend"]);
        attempt.shouldRetry = header(response.headers["x-should-retry"]);
        const retryAfterMs = Number(header(response.headers["retry-after-ms"]) ?? Number.NaN);
        const retryAfter = Number(header(response.headers["retry-after"]) ?? Number.NaN);
        attempt.retryAfterMs = Number.isFinite(retryAfterMs) ? retryAfterMs : Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined;
        let text = "";
        let done = false;
        let streamError: string | undefined;
        let usageTokens = 0;
        const parser = createParser({
          onEvent: (event) => {
            if (event.data === "[DONE]") {
              done = true;
              return;
            }
            const chunk = JSON.parse(event.data) as {
              error?: { message?: string };
              choices?: { delta?: { content?: string } }[];
              usage?: { total_tokens?: number } | null;
            };
            if (chunk.error) streamError ??= chunk.error.message ?? "error event";
            if (chunk.usage?.total_tokens) usageTokens = chunk.usage.total_tokens;
            if (chunk.choices?.[0]?.delta?.content && Number.isNaN(attempt.firstTokenMs))
              attempt.firstTokenMs = performance.now() - started;
          },
        });
        response.setEncoding("utf8");
        response.on("data", (data: string) => {
          if (attempt.status !== 200) {
            text += data;
            return;
          }
          try {
            parser.feed(data);
          } catch (error) {
            streamError ??= `unreadable event: ${(error as Error).message}`;
          }
        });
        response.on("end", () => {
          if (attempt.status !== 200) return settle(`${attempt.status}: ${text.slice(0, 600)}`);
          if (streamError !== undefined) return settle(`error event after the 200: ${streamError}`);
          if (!done || usageTokens === 0) return settle("the stream ended without [DONE] or usage");
          attempt.ok = true;
          attempt.tokens = usageTokens;
          settle();
        });
        response.on("error", (error) => settle(`the response broke off (${error.message})`));
        response.on("aborted", () => settle("the response was aborted"));
      },
    );
    request.on("error", (error) => settle(`the request failed (${error.message})`));
    request.end(payload);
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** What a caller retrying like the `openai` client saw: its first attempt and its last. */
export interface CallerOutcome {
  first: Attempt;
  final: Attempt;
  attempts: number;
}

/**
 * A caller as the official `openai` client behaves by default (openai/client.js, v6): up to
 * `maxRetries` (default 2) retries of 408, 409, 429, 5xx and connection failures (or whatever
 * `x-should-retry` says), after `retry-after-ms`, else `retry-after`, else 0.5 s × 2^n (at most
 * 8 s) less up to 25 % jitter. A stream that failed after its 200 is not retried: the client has
 * already handed it to the caller.
 */
export async function callLikeOpenAIClient(send: () => Promise<Attempt>, maxRetries: number): Promise<CallerOutcome> {
  const first = await send();
  let final = first;
  let attempts = 1;
  for (let retry = 0; retry < maxRetries && !final.ok && retryable(final); retry++) {
    const backoffMs = Math.min(500 * 2 ** retry, 8_000) * (1 - Math.random() * 0.25);
    await sleep(final.retryAfterMs ?? backoffMs);
    final = await send();
    attempts++;
  }
  return { first, final, attempts };
}

function retryable(attempt: Attempt): boolean {
  if (attempt.shouldRetry === "true") return true;
  if (attempt.shouldRetry === "false") return false;
  const status = attempt.status;
  return status === 0 || status === 408 || status === 409 || status === 429 || status >= 500;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `fire` at `ratePerSecond`, evenly spaced, for `durationMs` (open loop), and waits for every
 * call to finish. Even spacing rather than Poisson arrivals: the routing choice is random already,
 * and fewer random parts make rounds comparable with fewer of them.
 */
export async function openLoop<T>(ratePerSecond: number, durationMs: number, fire: (index: number) => Promise<T>): Promise<T[]> {
  const count = Math.max(1, Math.round((ratePerSecond * durationMs) / 1000));
  const gapMs = durationMs / count;
  const started = performance.now();
  const calls: Promise<T>[] = [];
  for (let i = 0; i < count; i++) {
    const due = started + i * gapMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    calls.push(fire(i));
  }
  return Promise.all(calls);
}

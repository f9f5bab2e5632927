import { classifyError, type AppError } from "../errors.js";
import type { Logger } from "../logging.js";

export interface OpenAICallRecord {
  operation: string;
  deployment: string;
  latencyInMs: number;
  status?: number;
  promptTokens?: number;
  completionTokens?: number;
  /** Characters of text spoken (text to speech is billed by them). */
  characters?: number;
  /** Bytes passed on to the caller (streamed audio). */
  bytes?: number;
  /** `apim-request-id` (Azure) or `x-request-id`, for support cases. */
  requestId?: string | null;
}

/** One line per Azure OpenAI call: what, where, how long, how many tokens, which request. */
export function logOpenAICall(logger: Logger, record: OpenAICallRecord): void {
  const parts = [`Azure OpenAI ${record.operation}`, `deployment=${record.deployment}`, `latencyMs=${Math.round(record.latencyInMs)}`];
  if (record.status !== undefined) parts.push(`status=${record.status}`);
  if (record.promptTokens !== undefined) parts.push(`promptTokens=${record.promptTokens}`);
  if (record.completionTokens !== undefined) parts.push(`completionTokens=${record.completionTokens}`);
  if (record.characters !== undefined) parts.push(`characters=${record.characters}`);
  if (record.bytes !== undefined) parts.push(`bytes=${record.bytes}`);
  parts.push(`requestId=${record.requestId ?? "none"}`);
  logger.info(parts.join(" "));
}

/** Reads the upstream request id from response headers, preferring Azure's APIM id. */
export function upstreamRequestId(headers: Headers): string | null {
  return headers.get("apim-request-id") ?? headers.get("x-request-id");
}

/** One line for a call that failed, from its classified error (status, kind, request id). */
export function logFailedOpenAICall(
  logger: Logger,
  record: Pick<OpenAICallRecord, "operation" | "deployment" | "latencyInMs">,
  error: AppError,
): void {
  logOpenAICall(logger, {
    ...record,
    operation: `${record.operation} failed: ${error.kind}${error.code ? `/${error.code}` : ""}`,
    ...(error.status === undefined ? {} : { status: error.status }),
    requestId: error.requestId ?? null,
  });
}

/** What an answer says it used, for its log line. */
export type CallUsage = Pick<OpenAICallRecord, "promptTokens" | "completionTokens" | "characters">;

/** Which call, for its log line, and who else wants its usage. */
export type CallDescription = Pick<OpenAICallRecord, "operation" | "deployment"> & {
  /**
   * Told the usage of a call Azure answered, once it is known: when a whole answer arrived, or when
   * a stream ended (with what it reported, `{}` when it ended before its usage). Not told of calls
   * Azure refused or never answered. Per-caller token limits settle with it.
   */
  onUsage?: ((usage: CallUsage) => void) | undefined;
};

/**
 * Makes one Azure OpenAI call whose answer is read whole, and logs it: latency, status, usage and
 * request id, or the classified failure. Streamed calls log when their stream ends instead.
 * @throws what `call` throws, unchanged (classify it with classifyError).
 */
export async function loggedCall<T>(
  logger: Logger,
  { onUsage, ...what }: CallDescription,
  call: () => Promise<{ data: T; response: Response }>,
  usage: (data: T) => CallUsage = () => ({}),
): Promise<T> {
  const started = performance.now();
  try {
    const { data, response } = await call();
    const used = usage(data);
    logOpenAICall(logger, {
      ...what,
      latencyInMs: performance.now() - started,
      status: response.status,
      ...used,
      requestId: upstreamRequestId(response.headers),
    });
    onUsage?.(used);
    return data;
  } catch (error) {
    logFailedOpenAICall(logger, { ...what, latencyInMs: performance.now() - started }, classifyError(error));
    throw error;
  }
}

/**
 * Opens a streamed Azure OpenAI call: resolves once Azure has accepted it (its response headers
 * arrived), so a refusal (429, 400, 401...) is logged and thrown while it can still be answered
 * with its status. The returned iterable is `read(response)`, and the call is logged once when it
 * ends, whichever way, with the usage `read` reported and whether the caller left first.
 * @throws (the promise) what `open` throws, unchanged; (the iteration) what `read` throws.
 */
export async function openLoggedStream<T>(
  logger: Logger,
  { onUsage, ...what }: CallDescription,
  signal: AbortSignal,
  open: () => Promise<Response>,
  read: (response: Response, reportUsage: (usage: CallUsage) => void) => AsyncIterable<T>,
): Promise<AsyncIterable<T>> {
  const started = performance.now();
  let response: Response;
  try {
    response = await open();
  } catch (error) {
    logFailedOpenAICall(logger, { ...what, latencyInMs: performance.now() - started }, classifyError(error));
    throw error;
  }
  // A plain iterator around `read`'s, not an async generator delegating to it: the generator
  // would add an async step per event (measured: about a tenth of the app's CPU per chunk).
  let usage: CallUsage = {};
  let inner: AsyncIterator<T> | undefined;
  let logged = false;
  const log = () => {
    if (logged) return;
    logged = true;
    logOpenAICall(logger, {
      ...what,
      operation: signal.aborted ? `${what.operation} (caller disconnected)` : what.operation,
      latencyInMs: performance.now() - started,
      status: response.status,
      ...usage,
      requestId: upstreamRequestId(response.headers),
    });
    onUsage?.(usage);
  };
  const ended = (result: IteratorResult<T>) => {
    if (result.done) log();
    return result;
  };
  const failed = (error: unknown): never => {
    log();
    throw error;
  };
  const events: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => events,
    next: () => {
      // `read` starts with the iteration, as the body of a generator would.
      inner ??= read(response, (reported) => (usage = reported))[Symbol.asyncIterator]();
      return inner.next().then(ended, failed);
    },
    // The consumer stops early: the inner iteration releases the upstream body, then the log.
    // Before the first next() there is nothing to end (as with a generator not yet started).
    return: async (value?: unknown) => {
      if (!inner) return { done: true, value: value as T };
      try {
        return (await inner.return?.(value)) ?? { done: true, value: value as T };
      } finally {
        log();
      }
    },
  };
  return events;
}

import { classifyError, type AppError } from "../errors.js";
import type { Logger } from "../logging.js";
import { recordCall, recordThrottled, type CallLabels, type CallOutcome } from "../metrics/index.js";

/**
 * A logger that also carries the metric labels of the call it logs: the router's per-attempt
 * logger (src/routing/router.ts) is one, being the one thing every call site already hands the
 * call log. Calls logged on a plain logger are logged, not measured.
 */
export interface CallLogger extends Logger {
  readonly callLabels?: CallLabels;
}

export interface OpenAICallRecord {
  operation: string;
  deployment: string;
  latencyInMs: number;
  status?: number;
  promptTokens?: number;
  completionTokens?: number;
  /** Of the prompt tokens, those served from the prompt cache. */
  cachedTokens?: number;
  /** Of the completion tokens, those spent reasoning. */
  reasoningTokens?: number;
  /** Seconds of audio Azure billed (transcription). */
  audioSeconds?: number;
  /** Images generated. */
  images?: number;
  /** Characters of text spoken (text to speech is billed by them). */
  characters?: number;
  /** Bytes passed on to the caller (streamed audio). */
  bytes?: number;
  /** `apim-request-id` (Azure) or `x-request-id`, for support cases. */
  requestId?: string | null;
}

/**
 * One line per Azure OpenAI call Azure answered: what, where, how long, how many tokens, which
 * request; and its metrics, with `outcome` for an answer that ended otherwise than complete (a
 * streamed body cut off, or left by the caller).
 */
export function logOpenAICall(logger: CallLogger, record: OpenAICallRecord, outcome: CallOutcome = "ok"): void {
  writeCallLine(logger, record);
  meterCall(logger, record, outcome);
}

/** The call's metrics (src/metrics/), when its logger carries the labels. */
function meterCall(logger: CallLogger, record: OpenAICallRecord, outcome: CallOutcome, timeToFirstTokenInMs?: number): void {
  const labels = logger.callLabels;
  if (!labels) return;
  recordCall(labels, {
    outcome,
    durationInMs: record.latencyInMs,
    timeToFirstTokenInMs,
    usage: {
      promptTokens: record.promptTokens,
      completionTokens: record.completionTokens,
      cachedTokens: record.cachedTokens,
      reasoningTokens: record.reasoningTokens,
      audioSeconds: record.audioSeconds,
      images: record.images,
      characters: record.characters,
    },
  });
  if (outcome === "throttled" && record.status === 429) recordThrottled(labels);
}

function writeCallLine(logger: Logger, record: OpenAICallRecord): void {
  const parts = [`Azure OpenAI ${record.operation}`, `deployment=${record.deployment}`, `latencyMs=${Math.round(record.latencyInMs)}`];
  if (record.status !== undefined) parts.push(`status=${record.status}`);
  if (record.promptTokens !== undefined) parts.push(`promptTokens=${record.promptTokens}`);
  if (record.completionTokens !== undefined) parts.push(`completionTokens=${record.completionTokens}`);
  if (record.cachedTokens) parts.push(`cachedTokens=${record.cachedTokens}`);
  if (record.reasoningTokens) parts.push(`reasoningTokens=${record.reasoningTokens}`);
  if (record.audioSeconds !== undefined) parts.push(`audioSeconds=${record.audioSeconds}`);
  if (record.images !== undefined) parts.push(`images=${record.images}`);
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
  logger: CallLogger,
  record: Pick<OpenAICallRecord, "operation" | "deployment" | "latencyInMs">,
  error: AppError,
): void {
  const failed: OpenAICallRecord = {
    ...record,
    operation: `${record.operation} failed: ${error.kind}${error.code ? `/${error.code}` : ""}`,
    ...(error.status === undefined ? {} : { status: error.status }),
    requestId: error.requestId ?? null,
  };
  writeCallLine(logger, failed);
  meterCall(logger, failed, error.kind);
}

/** What an answer says it used, for its log line. */
export type CallUsage = Pick<
  OpenAICallRecord,
  "promptTokens" | "completionTokens" | "cachedTokens" | "reasoningTokens" | "audioSeconds" | "images" | "characters"
>;

/** Chat and completions usage (`usage` of an answer or of a stream's last chunk), cached and reasoning tokens included. */
export function completionUsage(usage: CompletionUsageShape | null | undefined): CallUsage {
  if (!usage) return {};
  return {
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    ...(usage.prompt_tokens_details?.cached_tokens ? { cachedTokens: usage.prompt_tokens_details.cached_tokens } : {}),
    ...(usage.completion_tokens_details?.reasoning_tokens ? { reasoningTokens: usage.completion_tokens_details.reasoning_tokens } : {}),
  };
}

/** The Responses API's usage (input/output tokens, their cached and reasoning details). */
export function responsesUsage(usage: ResponsesUsageShape | null | undefined): CallUsage {
  if (!usage) return {};
  return {
    promptTokens: usage.input_tokens,
    completionTokens: usage.output_tokens,
    ...(usage.input_tokens_details?.cached_tokens ? { cachedTokens: usage.input_tokens_details.cached_tokens } : {}),
    ...(usage.output_tokens_details?.reasoning_tokens ? { reasoningTokens: usage.output_tokens_details.reasoning_tokens } : {}),
  };
}

interface CompletionUsageShape {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number | undefined } | undefined;
  completion_tokens_details?: { reasoning_tokens?: number | undefined } | undefined;
}

interface ResponsesUsageShape {
  input_tokens: number;
  output_tokens: number;
  input_tokens_details?: { cached_tokens?: number | undefined } | undefined;
  output_tokens_details?: { reasoning_tokens?: number | undefined } | undefined;
}

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
  logger: CallLogger,
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
  logger: CallLogger,
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
  let firstEventInMs: number | undefined;
  const log = (failure?: unknown) => {
    if (logged) return;
    logged = true;
    const record: OpenAICallRecord = {
      ...what,
      operation: signal.aborted ? `${what.operation} (caller disconnected)` : what.operation,
      latencyInMs: performance.now() - started,
      status: response.status,
      ...usage,
      requestId: upstreamRequestId(response.headers),
    };
    writeCallLine(logger, record);
    // The tokens of a stream cut short were still generated (and billed) up to where it stopped.
    const outcome: CallOutcome = signal.aborted ? "cancelled" : failure === undefined ? "ok" : classifyError(failure).kind;
    meterCall(logger, record, outcome, firstEventInMs);
    // A stream that ended before its first event gave the caller nothing (a failover may try the
    // next backend): as for a refused call, its usage is not reported, so its charge is given back.
    if (firstEventInMs !== undefined) onUsage?.(usage);
  };
  const ended = (result: IteratorResult<T>) => {
    if (result.done) log();
    else firstEventInMs ??= performance.now() - started;
    return result;
  };
  const failed = (error: unknown): never => {
    log(error);
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

/**
 * The one mapping from a failure to an HTTP answer: `classifyError` (src/errors.ts) gives the kind,
 * `failureActions` (src/failure-actions.ts) the status, and this module OpenAI's error envelope, so
 * every endpoint answers the same failure the same way. The type tells the `openai` clients what to
 * raise: `invalid_request_error` (the request is at fault), `rate_limit_error` (with `Retry-After`),
 * `upstream_error` (Azure failed or refused the app), `server_error` (a bug or wrong settings).
 */
import { CALLER_TOKEN_LIMIT_EXCEEDED, classifyError, withHint, type AppError } from "../errors.js";
import { failureActions } from "../failure-actions.js";
import { redactSecrets, type Logger } from "../logging.js";
import { openAIErrorBody, type OpenAIErrorBody } from "./openai-error.js";
import { jsonResponse, type JsonResponse } from "./responses.js";

export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: OpenAIErrorBody;
  /** The classified error, for logging. */
  error: AppError;
}

/**
 * Maps any thrown value to status, headers and OpenAI-shaped body. Never throws. Azure's own
 * messages are passed on, so the message is redacted like a log line (tokens, keys, signatures).
 * @param knownSecrets exact values to mask too, such as the configured API key.
 */
export function describeError(thrown: unknown, knownSecrets: readonly string[] = []): ErrorAnswer {
  const answer = describeClassified(classifyError(thrown));
  answer.body.error.message = redactSecrets(answer.body.error.message, knownSecrets);
  return answer;
}

function describeClassified(error: AppError): ErrorAnswer {
  const status = failureActions(error).httpStatus;
  const answer = (body: OpenAIErrorBody, headers: Record<string, string> = {}): ErrorAnswer => ({ status, headers, body, error });
  switch (error.kind) {
    case "bad_input":
      return answer(openAIErrorBody(error.message, "invalid_request_error", { param: error.param, code: error.code }));
    case "upstream_permanent": {
      const isContentFilter = error.code === "content_filter";
      return answer(
        openAIErrorBody(error.message, "invalid_request_error", {
          param: error.param ?? (isContentFilter ? "prompt" : undefined),
          code: error.code,
          innererror: isContentFilter ? error.details : undefined,
        }),
      );
    }
    case "throttled": {
      const retryAfterInMs = Math.max(0, Math.round(error.retryAfterInMs ?? 1000));
      const message = withHint(error.message, `Retry after ${retryAfterInMs} ms.`);
      // Azure's throttling is answered with OpenAI's code; the app's own per-caller limit keeps its
      // code, so a caller (and the metrics) can tell which limit refused it.
      const code = error.code === CALLER_TOKEN_LIMIT_EXCEEDED ? error.code : "rate_limit_exceeded";
      return answer(openAIErrorBody(message, "rate_limit_error", { code }), { ...error.answerHeaders, ...retryHeaders(retryAfterInMs) });
    }
    case "transient":
      if (status === 500) {
        // A bug of ours: the caller learns nothing of the internals; the log has the stack.
        const message = "The app failed unexpectedly; the failure is logged. Try again, and report it if it persists.";
        return answer(openAIErrorBody(message, "server_error", { code: "internal_error" }));
      }
      return answer(
        openAIErrorBody(withHint(error.message, "Try again."), "upstream_error", {
          code: error.code ?? (status === 502 ? "upstream_error" : "upstream_unavailable"),
        }),
        // Known when every backend is passed over for failing: when the first may be tried again.
        error.retryAfterInMs === undefined ? {} : retryHeaders(error.retryAfterInMs),
      );
    case "configuration":
      // Azure refused the app or lacks its deployment (502), or our settings are wrong (500): the
      // caller can't fix either, and the message says what the operator must.
      return status === 502
        ? answer(openAIErrorBody(error.message, "upstream_error", { code: error.code }))
        : answer(openAIErrorBody(error.message, "server_error", { code: "configuration_error" }));
    case "cancelled":
      return answer(openAIErrorBody("The caller cancelled the request.", "invalid_request_error", { code: "cancelled" }));
  }
}

/** `Retry-After` in whole seconds (at least 1, as clients read it) and Azure's finer `retry-after-ms`. */
function retryHeaders(retryAfterInMs: number): Record<string, string> {
  const ms = Math.max(0, Math.round(retryAfterInMs));
  return { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))), "retry-after-ms": String(ms) };
}

/** The JSON response for any thrown value (see the table above). Never throws. */
export function errorResponse(thrown: unknown, knownSecrets: readonly string[] = []): JsonResponse {
  const answer = describeError(thrown, knownSecrets);
  return jsonResponse(answer.status, answer.body, answer.headers);
}

/** The JSON error answer of an operation, logged at the level its status deserves. */
export function answerError(error: unknown, label: string, logger: Logger, secrets: readonly string[]): JsonResponse {
  const answer = describeError(error, secrets);
  // Nobody reads this answer when the caller left; that is not the app's failure.
  if (answer.error.kind === "cancelled") logger.info(`${label} cancelled: the caller disconnected`);
  else if (answer.status >= 500) logger.error(`${label} failed (${answer.status}): ${answer.error.message}`);
  else logger.warn(`${label} refused (${answer.status}): ${answer.error.message}`);
  return jsonResponse(answer.status, answer.body, answer.headers);
}

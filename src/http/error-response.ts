/**
 * The one mapping from a failure to an HTTP answer. It starts from `classifyError` (src/errors.ts)
 * and decides from the kind alone, so every endpoint answers the same failure the same way:
 *
 * | kind               | status | notes                                                              |
 * |--------------------|--------|--------------------------------------------------------------------|
 * | bad_input          | 400    | 413 when the body is over HTTP_MAX_REQUEST_BYTES                   |
 * | throttled          | 429    | `Retry-After` (seconds) and `retry-after-ms` from Azure's answer   |
 * | transient          | 502    | Azure answered 408/409/5xx or broke off mid-answer; 503 when it could not be reached/timed out |
 * |                    | 500    | nothing recognised the failure (a bug): no internal details leak  |
 * | upstream_permanent | 400    | Azure rejected the request itself (incl. content_filter + results) |
 * |                    | 502    | Azure refused the app (401/403: role assignment) or lacks the deployment (404) |
 * | configuration      | 500    | the message lists the settings to fix (never their values)         |
 */
import { classifyError, CONNECTION_LOST, UNEXPECTED, type AppError } from "../errors.js";
import { redactSecrets } from "../logging.js";
import { openAIErrorBody, type OpenAIErrorBody } from "./openai-error.js";
import { jsonResponse, type JsonResponse } from "./responses.js";

/** `code` of the BadInputError thrown for bodies over the size limit; answered with 413. */
export const REQUEST_TOO_LARGE = "request_too_large";

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
  const headers: Record<string, string> = {};
  switch (error.kind) {
    case "bad_input": {
      const tooLarge = error.code === REQUEST_TOO_LARGE;
      return {
        status: tooLarge ? 413 : 400,
        headers,
        body: openAIErrorBody(error.message, "invalid_request_error", { param: error.param, code: error.code }),
        error,
      };
    }
    case "throttled": {
      const retryAfterInMs = Math.max(0, Math.round(error.retryAfterInMs ?? 1000));
      headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfterInMs / 1000)));
      headers["retry-after-ms"] = String(retryAfterInMs);
      return {
        status: 429,
        headers,
        body: openAIErrorBody(`${error.message.replace(/\.?\s*$/, ".")} Retry after ${retryAfterInMs} ms.`, "rate_limit_error", {
          code: "rate_limit_exceeded",
        }),
        error,
      };
    }
    case "transient": {
      if (error.code === UNEXPECTED) {
        // A bug of ours: the caller learns nothing of the internals; the log has the stack.
        return {
          status: 500,
          headers,
          body: openAIErrorBody(
            "The app failed unexpectedly; the failure is logged. Try again, and report it if it persists.",
            "server_error",
            {
              code: "internal_error",
            },
          ),
          error,
        };
      }
      // An answer from Azure (5xx, 408, 409, or one cut off mid-body) is a bad gateway; no answer at
      // all means unavailable.
      const status = error.status !== undefined || error.code === CONNECTION_LOST ? 502 : 503;
      return {
        status,
        headers,
        body: openAIErrorBody(error.message.replace(/; it will be retried$/, "; try again"), "upstream_error", {
          code: error.code ?? (status === 502 ? "upstream_error" : "upstream_unavailable"),
        }),
        error,
      };
    }
    case "upstream_permanent": {
      // 401/403/404 are the app's own setup (role assignment, deployment name): the caller can't fix them.
      const appSide = error.status === 401 || error.status === 403 || error.status === 404;
      if (appSide) {
        return {
          status: 502,
          headers,
          body: openAIErrorBody(error.message, "upstream_error", { code: error.code }),
          error,
        };
      }
      const isContentFilter = error.code === "content_filter";
      return {
        status: 400,
        headers,
        body: openAIErrorBody(error.message, "invalid_request_error", {
          param: error.param ?? (isContentFilter ? "prompt" : undefined),
          code: error.code,
          innererror: isContentFilter ? error.details : undefined,
        }),
        error,
      };
    }
    case "configuration":
      return {
        status: 500,
        headers,
        body: openAIErrorBody(error.message, "server_error", { code: "configuration_error" }),
        error,
      };
  }
}

/** The JSON response for any thrown value (see the table above). Never throws. */
export function errorResponse(thrown: unknown, knownSecrets: readonly string[] = []): JsonResponse {
  const answer = describeError(thrown, knownSecrets);
  return jsonResponse(answer.status, answer.body, answer.headers);
}

/**
 * What every trigger does about a failure, decided from its kind (src/errors.ts) in this one place.
 * The HTTP answer, the embeddings queue handler and the transcription blob handler all ask here,
 * so the same failure is handled alike everywhere and docs/ can state one table:
 *
 * | kind               | HTTP answer                                      | queue (embeddings, speech, images)    | blob (transcription)                  |
 * |--------------------|--------------------------------------------------|---------------------------------------|---------------------------------------|
 * | bad_input          | 400 (413: body over HTTP_MAX_REQUEST_BYTES)      | reject: error record, completed       | fail: `failed` status at once         |
 * | upstream_permanent | Azure's 4xx: 400 (content filter: its results    | reject                                | fail                                  |
 * |                    | too), 404 for an object the request named        |                                       |                                       |
 * | throttled          | 429 with Retry-After                             | hand back: a fresh copy, visible      | retry: the host delivers it again     |
 * |                    |                                                  | after Azure's delay (none spent)      |                                       |
 * | transient          | 502 Azure answered / 503 unreachable / 500 a bug | retry: the host redelivers, then      | retry, then `failed` after the last   |
 * |                    |                                                  | poison                                | delivery                              |
 * | configuration      | 500 settings / 502 Azure refused the app (401,   | retry, then poison: the message is    | retry, then `failed` after the last   |
 * |                    | 403) or lacks the deployment (404)               | kept to replay once the app is fixed  | delivery (upload again once fixed)    |
 * | cancelled          | 499 (nobody is left to read it)                  | retry                                 | retry                                 |
 *
 * Throttling and transient failures are first retried inside the invocation by the queue and blob
 * pipelines, with the budget of src/openai/retry-policy.ts; HTTP callers retry themselves.
 */
import { UNEXPECTED, CONNECTION_LOST, type AppError } from "./errors.js";

/** `code` of the BadInputError thrown for bodies over the size limit; answered with 413. */
export const REQUEST_TOO_LARGE = "request_too_large";

/** Status answered to a caller that has gone away (nginx's "client closed request"): only logs see it. */
export const CLIENT_CLOSED_REQUEST = 499;

/** What becomes of a queue message: completed with a `rejected` record, handed back as a fresh copy, or left for the host to redeliver. */
export type QueueAction = "reject" | "hand_back" | "retry";

/** What becomes of a blob: a final `failed` status, or left for the host to deliver again. */
export type BlobAction = "fail" | "retry";

export interface FailureActions {
  /** Status of the HTTP answer. */
  httpStatus: number;
  queue: QueueAction;
  blob: BlobAction;
  /** The caller's input is at fault (so a request shared by several callers is retried one caller at a time to find whose). */
  inputAtFault: boolean;
}

/** The one decision: what each trigger does about this failure. */
export function failureActions(error: AppError): FailureActions {
  switch (error.kind) {
    case "bad_input":
      return { httpStatus: error.code === REQUEST_TOO_LARGE ? 413 : 400, queue: "reject", blob: "fail", inputAtFault: true };
    case "upstream_permanent":
      // Azure's own 4xx (400, 404 for an object the request named, 413...) is the caller's answer.
      return { httpStatus: upstreamStatus(error), queue: "reject", blob: "fail", inputAtFault: true };
    case "throttled":
      return { httpStatus: 429, queue: "hand_back", blob: "retry", inputAtFault: false };
    case "transient":
      return { httpStatus: transientStatus(error), queue: "retry", blob: "retry", inputAtFault: false };
    case "configuration":
      // Azure's own refusal (it carries the status) is a bad gateway; our settings are our fault.
      return { httpStatus: error.status !== undefined ? 502 : 500, queue: "retry", blob: "retry", inputAtFault: false };
    case "cancelled":
      return { httpStatus: CLIENT_CLOSED_REQUEST, queue: "retry", blob: "retry", inputAtFault: false };
  }
}

function upstreamStatus(error: AppError): number {
  return error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 400;
}

/** A bug of ours is 500; an answer from Azure (5xx, 408, 409, or one cut off mid-body) 502; no answer at all 503. */
function transientStatus(error: AppError): number {
  if (error.code === UNEXPECTED) return 500;
  return error.status !== undefined || error.code === CONNECTION_LOST ? 502 : 503;
}

/**
 * The error model every trigger maps from. A failure is classified once, here, into one of six
 * kinds; what each trigger then does is decided from the kind in one place, src/failure-actions.ts.
 *
 * | kind               | what went wrong                                                         |
 * |--------------------|-------------------------------------------------------------------------|
 * | bad_input          | the caller's input: body not JSON, schema violation, corrupt audio      |
 * | upstream_permanent | Azure OpenAI rejected this request itself: 400 (incl. content_filter), |
 * |                    | 404 for an object the request named (a stored response)                |
 * | throttled          | 429, carrying the delay Azure asked for                                 |
 * | transient          | 408, 409, 5xx, connection lost, timeout, or a failure nothing recognised |
 * | configuration      | the app is set up wrong: a setting, or Azure refusing the app's identity |
 * |                    | (401/403), lacking its deployment (404), or a deployment whose model    |
 * |                    | cannot do the operation (400 OperationNotSupported)                     |
 * | cancelled          | the caller went away (an HTTP client hung up) or the work was stopped   |
 *
 * Messages say what went wrong and how to fix it, never what happens next ("it will be retried"):
 * that depends on the trigger, so each output adds its own hint (see withHint).
 */
import type * as OpenAIErrorModule from "openai/error";
import { CREDENTIAL_KIND } from "./openai/credential-kind.js";

/** The `openai` package's error classes classifyError tells apart. */
export type OpenAIErrorClasses = Pick<
  typeof OpenAIErrorModule,
  "APIError" | "APIConnectionError" | "APIConnectionTimeoutError" | "APIUserAbortError"
>;

let openaiErrors: OpenAIErrorClasses | undefined;

/**
 * Hands classifyError the `openai` package's error classes. The shared client module calls it when
 * it loads the package (src/openai/client.ts): only a client raises those errors, and importing
 * them here would put the package's error module on every cold start, the entry file's load.
 */
export function useOpenAIErrorClasses(classes: OpenAIErrorClasses): void {
  openaiErrors = classes;
}

/** `code` of failures nothing recognised (most likely a bug in the app). */
export const UNEXPECTED = "unexpected";

/** `code` of a refusal by the app's own per-caller token limits (CALLER_TOKEN_LIMITS), kind `throttled`. */
export const CALLER_TOKEN_LIMIT_EXCEEDED = "caller_token_limit_exceeded";

/** `code` of an answer whose connection broke after it began (Azure answered, then the body was cut). */
export const CONNECTION_LOST = "connection_lost";

export type FailureKind = "bad_input" | "upstream_permanent" | "throttled" | "transient" | "configuration" | "cancelled";

export interface AppErrorOptions {
  /** Upstream HTTP status, when the failure came from Azure OpenAI or storage. */
  status?: number;
  /** Machine-readable code: `content_filter`, `DeploymentNotFound`, `invalid_json`, ... */
  code?: string;
  /** The request field at fault, for bad input. */
  param?: string;
  /** How long to wait before retrying, for throttling. */
  retryAfterInMs?: number;
  /** Extra data a caller may show, e.g. content filter results. Never secrets. */
  details?: unknown;
  /** Headers the HTTP answer carries beside the status's own (a per-caller limit's remaining tokens). Never secrets. */
  answerHeaders?: Readonly<Record<string, string>>;
  /** Upstream request id (`apim-request-id` / `x-request-id`) for support cases. */
  requestId?: string;
  cause?: unknown;
}

export class AppError extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly param: string | undefined;
  readonly retryAfterInMs: number | undefined;
  readonly details: unknown;
  readonly answerHeaders: Readonly<Record<string, string>> | undefined;
  readonly requestId: string | undefined;

  constructor(kind: FailureKind, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.kind = kind;
    this.status = options.status;
    this.code = options.code;
    this.param = options.param;
    this.retryAfterInMs = options.retryAfterInMs;
    this.details = options.details;
    this.answerHeaders = options.answerHeaders;
    this.requestId = options.requestId;
  }
}

/** Input the caller must fix; never retried. */
export class BadInputError extends AppError {
  constructor(message: string, options: Omit<AppErrorOptions, "status"> = {}) {
    super("bad_input", message, options);
    this.name = "BadInputError";
  }
}

/** Settings are missing or malformed; lists every problem at once. */
export class ConfigurationError extends AppError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      "configuration",
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigurationError";
    this.problems = problems;
  }
}

/** The caller (an HTTP client that disconnected, a shutting-down host) cancelled the work. */
export class CancelledError extends AppError {
  constructor(cause?: unknown) {
    super("cancelled", "The operation was cancelled", { cause });
    this.name = "CancelledError";
  }
}

/**
 * A message with the advice that fits one output (an HTTP answer, a status record, a log line):
 * `withHint("Azure OpenAI failed temporarily (503)", "Try again.")`.
 */
export function withHint(message: string, hint: string): string {
  return `${message.replace(/[.\s]*$/, "")}. ${hint}`;
}

/**
 * Classifies any thrown value. Already-classified errors pass through unchanged.
 * Messages are built from status and Azure's error code, never from request headers,
 * so keys and tokens cannot leak into them.
 */
export function classifyError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const openai = openaiErrors;
  // The client wraps what our own hooks threw (the token provider's AppError) in an error of its own.
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause instanceof AppError && !(openai && error instanceof openai.APIError)) return cause;
  if (openai && error instanceof openai.APIUserAbortError) return new CancelledError(error);
  if (isAbortError(error)) return new CancelledError(error);
  // Timeout is a subclass of connection error: check it first for the clearer message.
  if (openai && error instanceof openai.APIConnectionTimeoutError) {
    return new AppError("transient", "Azure OpenAI did not answer in time (timeout)", {
      code: "timeout",
      cause: error,
    });
  }
  if (openai && error instanceof openai.APIConnectionError) {
    return new AppError("transient", `Could not reach Azure OpenAI (connection failed: ${describeCause(error)})`, {
      code: "connection_error",
      cause: error,
    });
  }
  if (openai && error instanceof openai.APIError && typeof error.status === "number") {
    return classifyStatus(error.status, upstreamBody(error), error.headers, error);
  }
  const broken = brokenConnection(error);
  if (broken === "terminated") {
    return new AppError("transient", "The connection to Azure OpenAI broke off in the middle of its answer", {
      code: CONNECTION_LOST,
      cause: error,
    });
  }
  if (broken) {
    return new AppError("transient", `Connection failed (${broken})`, { code: "connection_error", cause: error });
  }
  // Most likely a bug of ours: retried by queue and blob triggers (it may be a passing condition),
  // answered 500 over HTTP without the internal message.
  return new AppError("transient", `Unexpected error: ${error instanceof Error ? error.message : String(error)}`, {
    code: UNEXPECTED,
    cause: error,
  });
}

interface UpstreamBody {
  /** OpenAI's error `type`, which the model APIs' own errors carry and Azure's platform errors do not. */
  type?: string;
  code?: string;
  message?: string;
  param?: string;
  innerError?: unknown;
}

/** The shortest wait a 429 asks for, whatever its Retry-After says. */
export const MIN_THROTTLE_WAIT_IN_MS = 100;

/** Maps an upstream HTTP status (Azure OpenAI or storage) to a kind, with an actionable message. */
export function classifyStatus(status: number, body: UpstreamBody, headers: Headers | undefined, cause?: unknown): AppError {
  const requestId = headers?.get("apim-request-id") ?? headers?.get("x-request-id") ?? undefined;
  const upstream = body.message ? `: ${body.message}` : "";
  const base = { status, code: body.code, requestId, cause };
  if (status === 429) {
    return new AppError("throttled", `Azure OpenAI is throttling requests (429)${upstream}`, {
      ...base,
      // A zero or past Retry-After would have the pipelines resend at once, over and over.
      retryAfterInMs: Math.max(MIN_THROTTLE_WAIT_IN_MS, retryAfterInMs(headers) ?? 1000),
    });
  }
  if (status === 408 || status === 409 || status >= 500) {
    return new AppError("transient", `Azure OpenAI failed temporarily (${status})${upstream}`, base);
  }
  if (status === 401 || status === 403) {
    return new AppError(
      "configuration",
      refusedCredentialMessage(status, (cause as Record<string, unknown> | undefined)?.[CREDENTIAL_KIND]),
      {
        ...base,
        code: body.code ?? (status === 401 ? "unauthorized" : "forbidden"),
      },
    );
  }
  if (status === 400 && body.code === "OperationNotSupported") {
    // The configured deployment's model cannot do this operation (e.g. a chat model set as the
    // speech deployment): the app's setup, not the request; a queue keeps such messages.
    return new AppError(
      "configuration",
      `Azure OpenAI's deployment does not support this operation (400 OperationNotSupported)${upstream}. Check that the ` +
        `AZURE_OPENAI_*_DEPLOYMENT setting for this capability names a deployment of a model that supports it.`,
      base,
    );
  }
  if (status === 404 && !isRequestedObjectMissing(body)) {
    return new AppError(
      "configuration",
      `Azure OpenAI returned 404 (${body.code ?? "NotFound"})${upstream}. Check that the deployment named in ` +
        `AZURE_OPENAI_*_DEPLOYMENT exists on the resource in AZURE_OPENAI_ENDPOINT.`,
      base,
    );
  }
  const isContentFilter = body.code === "content_filter";
  return new AppError(
    "upstream_permanent",
    isContentFilter
      ? `Azure OpenAI's content filter blocked the request${upstream}`
      : `Azure OpenAI rejected the request (${status})${upstream}`,
    { ...base, param: body.param, details: isContentFilter ? body.innerError : undefined },
  );
}

/**
 * A 404 about something the request named (a stored response, a previous_response_id: the API's
 * own `invalid_request_error`), not about the app's deployment or endpoint, which Azure's platform
 * answers without a `type` (`DeploymentNotFound`, `404 Resource not found`).
 */
function isRequestedObjectMissing(body: UpstreamBody): boolean {
  return body.type === "invalid_request_error" && body.code !== "DeploymentNotFound";
}

/** What to do about a 401/403, for the credential the request carried (when the client said). */
function refusedCredentialMessage(status: number, credential: unknown): string {
  if (credential === "api-key") {
    return (
      `Azure OpenAI refused the API key (${status}). Check AZURE_OPENAI_API_KEY: it must be a key of the ` +
      `resource in AZURE_OPENAI_ENDPOINT (Keys and Endpoint in the portal), and a resource with local ` +
      `authentication disabled accepts no key at all: unset it to use the managed identity instead.`
    );
  }
  const role =
    `Give the app's managed identity the "Cognitive Services OpenAI User" role on the Azure OpenAI ` +
    `resource (role assignments can take a few minutes to apply)`;
  if (credential === "entra-id")
    return `Azure OpenAI refused the app's Entra ID token (${status}). ${role}, and check AZURE_CLIENT_ID names that identity.`;
  return `Azure OpenAI refused the app's credentials (${status}). ${role}, or check AZURE_OPENAI_API_KEY if key auth is used.`;
}

/** Reads Azure's `retry-after-ms` (preferred, finer) or the standard `retry-after` header. */
export function retryAfterInMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get("retry-after-ms"));
  if (Number.isFinite(ms) && ms >= 0 && headers?.get("retry-after-ms")) return ms;
  const raw = headers?.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function upstreamBody(error: OpenAIErrorModule.APIError): UpstreamBody {
  const body = error.error as Record<string, unknown> | undefined;
  if (!body || typeof body !== "object") return {};
  return {
    type: typeof body.type === "string" ? body.type : undefined,
    code: typeof body.code === "string" ? body.code : undefined,
    message: typeof body.message === "string" ? body.message : undefined,
    param: typeof body.param === "string" ? body.param : undefined,
    innerError: body.innererror ?? body.inner_error,
  };
}

/** The innermost useful reason (e.g. ECONNREFUSED) behind fetch's generic "fetch failed". */
function describeCause(error: Error): string {
  let reason = error.message;
  let current: unknown = (error as { cause?: unknown }).cause;
  for (let depth = 0; current && depth < 5; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string") return code;
    if (typeof message === "string" && message) reason = message;
    current = cause;
  }
  return reason;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { code?: string }).code === "ABORT_ERR");
}

const CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/**
 * The one test for a broken connection, wherever it surfaces: `"terminated"` for a body cut off
 * after the headers (undici, which fetch and so the openai client use, throws `TypeError:
 * terminated` from reading the body, outside the client's own connection errors), else the socket
 * error's code found on the error or its causes (storage's and raw sockets' errors), else undefined.
 */
function brokenConnection(error: unknown): string | undefined {
  if (error instanceof TypeError && error.message === "terminated") return "terminated";
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

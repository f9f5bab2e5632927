/**
 * OpenAI's error envelope, `{"error": {"message", "type", "param", "code"}}`: the shape the official
 * `openai` clients turn into typed exceptions (BadRequestError, RateLimitError, ...), used for every
 * error this app answers over HTTP, both as a JSON body and as the final event of a broken stream.
 */

/** OpenAI's error `type` values that this app uses. */
export type OpenAIErrorType = "invalid_request_error" | "rate_limit_error" | "server_error" | "upstream_error";

export interface OpenAIErrorObject {
  message: string;
  type: OpenAIErrorType;
  param: string | null;
  code: string | null;
  /** Azure's extra detail for content filter rejections (`content_filter_result`), passed on unchanged. */
  innererror?: unknown;
}

export interface OpenAIErrorBody {
  error: OpenAIErrorObject;
}

/** Builds the envelope; `param` and `code` become `null` when absent, as OpenAI sends them. */
export function openAIErrorBody(
  message: string,
  type: OpenAIErrorType,
  options: { param?: string | undefined; code?: string | undefined; innererror?: unknown } = {},
): OpenAIErrorBody {
  const error: OpenAIErrorObject = { message, type, param: options.param ?? null, code: options.code ?? null };
  if (options.innererror !== undefined) error.innererror = options.innererror;
  return { error };
}

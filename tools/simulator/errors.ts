/**
 * The simulator's error answers in the shapes clients meet on Azure: Azure's service errors
 * (`{"error": {"code", "message"}}`), OpenAI-style validation errors, and the content filter's 400
 * with its filter results (and the safe results attached to every answer). Thrown anywhere in a
 * handler as SimulatorHttpError and written as is, so a client's error handling sees Azure's words.
 */

/** One error answered to the client; thrown anywhere in a handler and written by the server. */
export class SimulatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === "object" && body && "error" in body ? JSON.stringify(body) : String(status));
  }
}

/** Azure's service errors (auth, routing, quota): `{"error": {"code", "message"}}`. */
export function azureError(status: number, code: string, message: string, headers?: Record<string, string>): SimulatorHttpError {
  return new SimulatorHttpError(status, { error: { code, message } }, headers);
}

/**
 * Model-side validation errors, passed through in OpenAI's shape. `param` and `code` are null when
 * the error has none: Azure's real answers carry them so (Azure/azure-sdk-for-net#40645), though
 * its 2024-10-21 specification types both as strings (test/simulator/azure-spec.ts).
 */
export function invalidRequest(message: string, param: string | null = null, code: string | null = null, status = 400): SimulatorHttpError {
  return new SimulatorHttpError(status, { error: { message, type: "invalid_request_error", param, code } });
}

export const SAFE_FILTER = { filtered: false, severity: "safe" } as const;

/** Prompt filter results as Azure attaches them to every response. */
export function promptFilterResults(): unknown[] {
  return [
    {
      prompt_index: 0,
      content_filter_results: {
        hate: SAFE_FILTER,
        jailbreak: { filtered: false, detected: false },
        self_harm: SAFE_FILTER,
        sexual: SAFE_FILTER,
        violence: SAFE_FILTER,
      },
    },
  ];
}

/** Per-choice completion filter results. */
export function choiceFilterResults(filteredCategory?: string): Record<string, unknown> {
  const results: Record<string, unknown> = {
    hate: SAFE_FILTER,
    protected_material_code: { filtered: false, detected: false },
    protected_material_text: { filtered: false, detected: false },
    self_harm: SAFE_FILTER,
    sexual: SAFE_FILTER,
    violence: SAFE_FILTER,
  };
  if (filteredCategory) results[filteredCategory] = { filtered: true, severity: "medium" };
  return results;
}

/** The 400 Azure answers when the prompt trips the content filter. */
export function contentFilterError(): SimulatorHttpError {
  return new SimulatorHttpError(400, {
    error: {
      message:
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. " +
        "Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
      type: null,
      param: "prompt",
      code: "content_filter",
      status: 400,
      innererror: {
        code: "ResponsibleAIPolicyViolation",
        content_filter_result: {
          hate: SAFE_FILTER,
          jailbreak: { filtered: false, detected: false },
          self_harm: SAFE_FILTER,
          sexual: SAFE_FILTER,
          violence: { filtered: true, severity: "medium" },
        },
      },
    },
  });
}

import { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai";
import * as openaiErrors from "openai/error";
import { describe, expect, it } from "vitest";
import { BadInputError, ConfigurationError, useOpenAIErrorClasses } from "../../src/errors.js";

// The app's client module registers these when it loads openai; these tests make the errors by hand.
useOpenAIErrorClasses(openaiErrors);
import { describeError, errorResponse } from "../../src/http/error-response.js";

/** An upstream failure exactly as the openai client raises it for an Azure answer. */
function upstream(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): APIError {
  return APIError.generate(status, { error: body }, undefined, new Headers(headers));
}

describe("describeError", () => {
  it("bad input -> 400 invalid_request_error with param and code", () => {
    const answer = describeError(new BadInputError("'messages' is required", { param: "messages", code: "missing_required_parameter" }));
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: { message: "'messages' is required", type: "invalid_request_error", param: "messages", code: "missing_required_parameter" },
    });
  });

  it("upstream 429 -> 429 with Retry-After in seconds (rounded up) and retry-after-ms", () => {
    const answer = describeError(
      upstream(429, { code: "429", message: "Rate limit is exceeded." }, { "retry-after-ms": "1500", "retry-after": "2" }),
    );
    expect(answer.status).toBe(429);
    expect(answer.headers).toEqual({ "retry-after": "2", "retry-after-ms": "1500" });
    expect(answer.body.error.code).toBe("rate_limit_exceeded");
    expect(answer.body.error.message).toContain("Retry after 1500 ms");
  });

  it("upstream content_filter -> 400 carrying the filter results", () => {
    const innererror = { code: "ResponsibleAIPolicyViolation", content_filter_result: { violence: { filtered: true, severity: "high" } } };
    const answer = describeError(
      upstream(400, { code: "content_filter", message: "The prompt was filtered", param: "prompt", innererror }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: "content_filter", param: "prompt", type: "invalid_request_error", innererror });
  });

  it.each([401, 403])("upstream %i -> 502 pointing at the role assignment, never echoing credentials", (status) => {
    const answer = describeError(
      upstream(status, { code: "PermissionDenied", message: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl denied" }),
    );
    expect(answer.status).toBe(502);
    expect(answer.body.error.message).toContain("Cognitive Services OpenAI User");
    expect(JSON.stringify(answer.body)).not.toContain("eyJ");
  });

  it("upstream 404 (deployment missing) -> 502: the caller can't fix the app's deployment", () => {
    expect(
      describeError(upstream(404, { code: "DeploymentNotFound", message: "The API deployment for this resource does not exist." })).status,
    ).toBe(502);
  });

  it("upstream 5xx -> 502, no connection or timeout -> 503", () => {
    expect(describeError(upstream(500, { message: "Internal" })).status).toBe(502);
    expect(describeError(new APIConnectionError({ message: "Connection error." })).status).toBe(503);
    expect(describeError(new APIConnectionTimeoutError()).status).toBe(503);
  });

  it("configuration problems -> 500 listing what to fix", () => {
    const answer = describeError(new ConfigurationError(["AZURE_OPENAI_ENDPOINT is missing"]));
    expect(answer.status).toBe(500);
    expect(answer.body.error.message).toContain("AZURE_OPENAI_ENDPOINT");
  });

  it.each([400, 404, 429, 500])("an upstream %i message that echoes credentials is redacted before it reaches the caller", (status) => {
    const key = "0123456789abcdef0123456789abcdef";
    const message = `Bad header api-key: ${key}; token Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl; raw ${key}`;
    const answer = describeError(upstream(status, { code: "x", message }), [key]);
    expect(answer.body.error.message).toContain("[REDACTED]");
    expect(JSON.stringify(answer.body)).not.toContain(key);
    expect(JSON.stringify(answer.body)).not.toContain("eyJ");
    expect(JSON.stringify(errorResponse(upstream(status, { message }), [key]).jsonBody)).not.toContain(key);
  });

  it("errorResponse is a JSON response that is never cached", () => {
    const response = errorResponse(new BadInputError("x"));
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.headers["cache-control"]).toBe("no-store");
  });

  it("answers a failure nothing recognises (a bug) with 500 and no internal details", () => {
    const answer = describeError(new TypeError("Cannot read properties of undefined (reading 'secretField')"));
    expect(answer.status).toBe(500);
    expect(answer.body.error).toMatchObject({ type: "server_error", code: "internal_error" });
    expect(answer.body.error.message).not.toMatch(/secretField|undefined/);
  });
});

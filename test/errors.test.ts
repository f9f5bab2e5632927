import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { AppError, BadInputError, classifyError, MIN_THROTTLE_WAIT_IN_MS, retryAfterInMs } from "../src/errors.js";
import { createOpenAIClient } from "../src/openai/client.js";
import { sendJson, startRecordingServer } from "./support/recording-server.js";

// Each test picks the upstream answer by the deployment name it calls.
const ANSWERS: Record<string, { status: number; body: unknown; headers?: Record<string, string> }> = {
  "bad-request": { status: 400, body: { error: { code: "invalid_request", message: "max_tokens is too large", param: "max_tokens" } } },
  filtered: {
    status: 400,
    body: {
      error: {
        code: "content_filter",
        message: "The response was filtered",
        innererror: { code: "ResponsibleAIPolicyViolation", content_filter_result: { hate: { filtered: true, severity: "high" } } },
      },
    },
  },
  unauthorized: { status: 401, body: { error: { code: "PermissionDenied", message: "Principal does not have access" } } },
  forbidden: { status: 403, body: { error: { code: "Forbidden", message: "Forbidden" } } },
  missing: {
    status: 404,
    body: { error: { code: "DeploymentNotFound", message: "The API deployment for this resource does not exist." } },
  },
  "wrong-model": {
    status: 400,
    body: {
      error: { code: "OperationNotSupported", message: "The embeddings operation does not work with the specified model, gpt-4o-mini." },
    },
  },
  "no-such-response": {
    status: 404,
    body: { error: { message: "Response with id 'resp_1' not found.", type: "invalid_request_error", param: null, code: null } },
  },
  "request-timeout": { status: 408, body: { error: { code: "Timeout", message: "timeout" } } },
  conflict: { status: 409, body: { error: { code: "Conflict", message: "conflict" } } },
  throttled: {
    status: 429,
    body: { error: { code: "429", message: "Requests exceed the rate limit" } },
    headers: { "retry-after": "2", "retry-after-ms": "1500", "apim-request-id": "req-429" },
  },
  "throttled-seconds": { status: 429, body: { error: { code: "429", message: "slow down" } }, headers: { "retry-after": "3" } },
  "throttled-now": {
    status: 429,
    body: { error: { code: "429", message: "slow down" } },
    headers: { "retry-after-ms": "0", "retry-after": "0" },
  },
  "throttled-past": {
    status: 429,
    body: { error: { code: "429", message: "slow down" } },
    headers: { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" },
  },
  broken: { status: 500, body: { error: { code: "InternalServerError", message: "boom" } } },
  unavailable: { status: 503, body: { error: { code: "ServiceUnavailable", message: "busy" } } },
};

let server: Awaited<ReturnType<typeof startRecordingServer>>;
beforeAll(async () => {
  server = await startRecordingServer((req, res) => {
    const deployment = JSON.parse(req.body).model as string;
    if (deployment === "hang") return; // never answers: the client's timeout fires
    if (deployment === "reset") return void res.socket?.destroy();
    const answer = ANSWERS[deployment]!;
    sendJson(res, answer.status, answer.body, answer.headers);
  });
});
afterAll(() => server.stop());

async function failureOf(deployment: string, endpoint = server.url, auth: "api-key" | "entra-id" = "api-key"): Promise<AppError> {
  const config = loadConfig({
    AZURE_OPENAI_ENDPOINT: endpoint,
    ...(auth === "api-key" ? { AZURE_OPENAI_API_KEY: "unit-test-key-123456" } : {}),
    AZURE_OPENAI_MAX_RETRIES: "0",
    AZURE_OPENAI_TIMEOUT_MS: "1000",
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
  });
  // A fixed token stands in for the managed identity: the upstream answer is what is tested.
  const credential = { getToken: async () => ({ token: "unit-test-token", expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const client = await createOpenAIClient(config.openai, auth === "entra-id" ? { credential } : {});
  try {
    await client.chat.completions.create({ model: deployment, messages: [{ role: "user", content: "x" }] });
  } catch (error) {
    return classifyError(error);
  }
  throw new Error("expected the call to fail");
}

describe("classifyError", () => {
  it.each([
    ["bad-request", "upstream_permanent", 400, /rejected the request \(400\): max_tokens is too large/],
    ["filtered", "upstream_permanent", 400, /content filter blocked the request/],
    ["unauthorized", "configuration", 401, /refused the API key \(401\)\. Check AZURE_OPENAI_API_KEY/],
    ["forbidden", "configuration", 403, /refused the API key \(403\)/],
    ["missing", "configuration", 404, /DeploymentNotFound.*AZURE_OPENAI_\*_DEPLOYMENT/],
    ["wrong-model", "configuration", 400, /does not support this operation.*AZURE_OPENAI_\*_DEPLOYMENT/],
    ["no-such-response", "upstream_permanent", 404, /Response with id 'resp_1' not found/],
    ["request-timeout", "transient", 408, /failed temporarily \(408\)/],
    ["conflict", "transient", 409, /failed temporarily \(409\)/],
    ["throttled", "throttled", 429, /throttling requests \(429\)/],
    ["broken", "transient", 500, /failed temporarily \(500\)/],
    ["unavailable", "transient", 503, /failed temporarily \(503\)/],
  ])("%s -> %s", async (deployment, kind, status, message) => {
    const error = await failureOf(deployment);
    expect(error.kind).toBe(kind);
    expect(error.status).toBe(status);
    expect(error.message).toMatch(message);
    // The message says what went wrong, never what happens next: that depends on the trigger.
    expect(error.message).not.toMatch(/retr(y|ied)/i);
  });

  it.each(["unauthorized", "forbidden"])("%s with the managed identity points at the role assignment, not at a key", async (deployment) => {
    const error = await failureOf(deployment, server.url, "entra-id");
    expect(error.message).toMatch(
      /refused the app's Entra ID token \(40[13]\)\. Give the app's managed identity the "Cognitive Services OpenAI User" role/,
    );
    expect(error.message).not.toContain("AZURE_OPENAI_API_KEY");
  });

  it("with an API key, a 401 says to check the key and never advises a role", async () => {
    const error = await failureOf("unauthorized");
    expect(error.message).not.toMatch(/role|managed identity the/);
    expect(error.message).not.toContain("unit-test-key-123456");
  });

  it("keeps the param of a 400 and the filter results of a content_filter", async () => {
    expect((await failureOf("bad-request")).param).toBe("max_tokens");
    const filtered = await failureOf("filtered");
    expect(filtered.code).toBe("content_filter");
    expect(filtered.details).toMatchObject({ content_filter_result: { hate: { filtered: true } } });
  });

  it("a 429 carries retry-after-ms in preference to retry-after, and the request id", async () => {
    const error = await failureOf("throttled");
    expect(error.retryAfterInMs).toBe(1500);
    expect(error.requestId).toBe("req-429");
    expect((await failureOf("throttled-seconds")).retryAfterInMs).toBe(3000);
  });

  it("a 429 whose Retry-After is zero or already past still asks for a short wait, so no pipeline resends at once in a loop", async () => {
    expect((await failureOf("throttled-now")).retryAfterInMs).toBe(MIN_THROTTLE_WAIT_IN_MS);
    expect((await failureOf("throttled-past")).retryAfterInMs).toBe(MIN_THROTTLE_WAIT_IN_MS);
    expect(MIN_THROTTLE_WAIT_IN_MS).toBeGreaterThan(0);
  });

  it("a connection reset is transient", async () => {
    const error = await failureOf("reset");
    expect(error.kind).toBe("transient");
    expect(error.code).toBe("connection_error");
  });

  it("a refused connection is transient", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failureOf("anything", `http://127.0.0.1:${port}`);
    expect(error.kind).toBe("transient");
    expect(error.message).toMatch(/Could not reach Azure OpenAI \(connection failed: ECONNREFUSED\)/);
  });

  it("one classification of broken connections: a body cut off mid-answer, or a socket code anywhere in the causes", () => {
    const cut = classifyError(
      new TypeError("terminated", { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) }),
    );
    expect(cut).toMatchObject({ kind: "transient", code: "connection_lost" });
    expect(cut.message).toContain("broke off in the middle of its answer");
    const wrapped = classifyError(
      new Error("request failed", { cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }) }),
    );
    expect(wrapped).toMatchObject({ kind: "transient", code: "connection_error" });
    expect(wrapped.message).toContain("ECONNRESET");
    expect(classifyError(new TypeError("x is not a function")).code).toBe("unexpected");
  });

  it("a timeout is transient", async () => {
    const error = await failureOf("hang");
    expect(error.kind).toBe("transient");
    expect(error.code).toBe("timeout");
  });

  it("an abort by the caller is classified as aborted, not as a failure of Azure", async () => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: server.url,
      AZURE_OPENAI_API_KEY: "unit-test-key-123456",
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
    });
    const controller = new AbortController();
    const call = (await createOpenAIClient(config.openai)).chat.completions.create(
      { model: "hang", messages: [] },
      { signal: controller.signal },
    );
    controller.abort();
    const error = classifyError(await call.catch((e: unknown) => e));
    expect(error.kind).toBe("cancelled");
  });

  it("passes already-classified errors through and wraps unknown values", () => {
    const bad = new BadInputError("input must be a string", { param: "input" });
    expect(classifyError(bad)).toBe(bad);
    expect(classifyError("weird")).toMatchObject({ kind: "transient", message: "Unexpected error: weird" });
    expect(classifyError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })).kind).toBe("transient");
  });
});

describe("retryAfterInMs", () => {
  it("reads milliseconds, seconds and HTTP dates", () => {
    expect(retryAfterInMs(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterInMs(new Headers({ "retry-after": "7" }))).toBe(7000);
    const inFiveSeconds = new Date(Date.now() + 5000).toUTCString();
    expect(retryAfterInMs(new Headers({ "retry-after": inFiveSeconds }))).toBeGreaterThan(3000);
    expect(retryAfterInMs(new Headers())).toBeUndefined();
  });
});

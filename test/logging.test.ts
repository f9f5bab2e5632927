import type { AccessToken, TokenCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { classifyError } from "../src/errors.js";
import { createSafeLogger, redactSecrets, type Logger } from "../src/logging.js";
import { logOpenAICall, upstreamRequestId } from "../src/openai/call-log.js";
import { createOpenAIClient } from "../src/openai/client.js";
import { sendJson, startRecordingServer } from "./support/recording-server.js";

// Made up at run time so no fixture ever holds a key-shaped value.
const API_KEY = `k${crypto.randomUUID().replaceAll("-", "")}`;
const TOKEN = [
  Buffer.from('{"alg":"RS256","typ":"JWT"}').toString("base64url"),
  Buffer.from(JSON.stringify({ aud: "https://cognitiveservices.azure.com", nonce: crypto.randomUUID() })).toString("base64url"),
  Buffer.from(crypto.randomUUID()).toString("base64url"),
].join(".");

class FixedCredential implements TokenCredential {
  async getToken(): Promise<AccessToken> {
    return { token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  return { logger: { info: push, warn: push, error: push }, lines };
}

let server: Awaited<ReturnType<typeof startRecordingServer>>;
beforeAll(async () => {
  // A careless upstream that echoes the credentials it received into its error message.
  server = await startRecordingServer((req, res) => {
    const echoed = `auth=${req.headers.authorization ?? ""} api-key: ${req.headers["api-key"] ?? ""}`;
    const status = JSON.parse(req.body).model === "ok" ? 200 : 400;
    if (status === 200) {
      return sendJson(
        res,
        200,
        {
          object: "list",
          data: [{ object: "embedding", index: 0, embedding: [0.1] }],
          model: "m",
          usage: { prompt_tokens: 1, total_tokens: 1 },
        },
        { "apim-request-id": "apim-1" },
      );
    }
    sendJson(res, 400, { error: { code: "bad", message: echoed } });
  });
});
afterAll(() => server.stop());

describe("no key or token reaches the logs", () => {
  it.each([
    ["v1", "key"],
    ["v1", "token"],
    ["dated", "key"],
    ["dated", "token"],
  ])("%s style, %s auth: successful and failed calls log no secret", async (style, auth) => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: server.url,
      AZURE_OPENAI_API_STYLE: style,
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
      AZURE_OPENAI_MAX_RETRIES: "0",
      ...(auth === "key" ? { AZURE_OPENAI_API_KEY: API_KEY } : {}),
    }).openai;
    const client = await createOpenAIClient(config, { credential: new FixedCredential() });
    const { logger: sink, lines } = captureLogger();
    const logger = createSafeLogger(sink, config.apiKey ? [config.apiKey] : []);

    const started = performance.now();
    const { data, response } = await client.embeddings.create({ model: "ok", input: "hello" }).withResponse();
    logOpenAICall(logger, {
      operation: "embeddings",
      deployment: "ok",
      latencyInMs: performance.now() - started,
      status: response.status,
      promptTokens: data.usage.prompt_tokens,
      requestId: upstreamRequestId(response.headers),
    });

    const failure = await client.embeddings.create({ model: "fails", input: "hello" }).catch((e: unknown) => e);
    const classified = classifyError(failure);
    // The upstream really did echo the secret: the test would be meaningless otherwise.
    expect(classified.message).toContain(auth === "key" ? API_KEY : TOKEN);
    logger.error("embeddings failed:", classified.message, failure);
    logger.warn(failure);

    const all = lines.join("\n");
    expect(all).toContain("Azure OpenAI embeddings deployment=ok");
    expect(all).toContain("requestId=apim-1");
    expect(all).toContain("[REDACTED]");
    expect(all).not.toContain(API_KEY);
    expect(all).not.toContain(TOKEN);
  });
});

describe("redactSecrets", () => {
  it.each([
    ["Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]"],
    ['{"api-key":"0123456789abcdef"}', '{"api-key":"[REDACTED]"}'],
    ["x-functions-key=secretvalue&x=1", "x-functions-key=[REDACTED]&x=1"],
    [
      "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc/def+ghi==;EndpointSuffix=x",
      "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=[REDACTED];EndpointSuffix=x",
    ],
    ["https://a.blob.core.windows.net/c/b?sv=2020&sig=abcDEF%2B123", "https://a.blob.core.windows.net/c/b?sv=2020&sig=[REDACTED]"],
    ["nothing secret here", "nothing secret here"],
  ])("%s", (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it("masks a known secret wherever it appears", () => {
    expect(redactSecrets(`the key is ${API_KEY}.`, [API_KEY])).toBe("the key is [REDACTED].");
  });
});

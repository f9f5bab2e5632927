import { describe, expect, it } from "vitest";
import { loadConfig, SETTINGS } from "../src/config.js";
import { ConfigurationError } from "../src/errors.js";
import { API_VERSIONS } from "../src/openai/api-versions.js";

const MINIMAL = {
  AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com",
  AzureWebJobsStorage: "UseDevelopmentStorage=true",
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return [...(error as ConfigurationError).problems];
  }
  throw new Error("expected a ConfigurationError");
}

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig(MINIMAL);
    expect(config.openai).toMatchObject({
      endpoint: "https://contoso.openai.azure.com",
      apiStyle: "v1",
      apiVersion: "2024-10-21",
      apiKey: undefined,
      clientId: undefined,
      timeoutInMs: 60000,
      maxRetries: 2,
      managedIdentityAvailable: false,
      deployments: {
        chat: "gpt-4o-mini",
        embeddings: "text-embedding-3-small",
        transcription: "whisper",
        speech: "gpt-4o-mini-tts",
        images: "gpt-image-1",
        completions: undefined,
      },
    });
    expect(config.speech).toEqual({ queue: "speech", container: "speech" });
    expect(config.images).toEqual({ queue: "images", container: "images" });
    expect(config.storage).toEqual({ kind: "connectionString", connectionString: "UseDevelopmentStorage=true" });
    expect(config.audio).toEqual({ container: "audio", transcriptsContainer: "transcripts", triggerSource: "LogsAndContainerScan" });
    expect(config.embeddings).toMatchObject({ queue: "embeddings", container: "embeddings", chunkTokens: 8191, maxInputsPerRequest: 2048 });
    expect(config.http).toEqual({
      authLevel: "function",
      maxRequestBytes: 1048576,
      maxAudioBytes: 209715200,
      streamIdleTimeoutInMs: 60000,
      callers: { authLevel: "function", keyNames: new Map(), easyAuth: false },
    });
  });

  it("turns speech or images off when their setting is present but empty, and keeps the default when it is unset", () => {
    const off = loadConfig({ ...MINIMAL, AZURE_OPENAI_SPEECH_DEPLOYMENT: "", AZURE_OPENAI_IMAGES_DEPLOYMENT: " " });
    expect(off.openai.deployments).toMatchObject({ speech: undefined, images: undefined, chat: "gpt-4o-mini" });
    expect(loadConfig(MINIMAL).openai.deployments).toMatchObject({ speech: "gpt-4o-mini-tts", images: "gpt-image-1" });
  });

  it("every documented default is what loadConfig uses", () => {
    for (const setting of SETTINGS.filter((s) => s.defaultValue !== undefined)) {
      // Setting each default explicitly must give the same configuration as leaving it unset.
      expect(loadConfig({ ...MINIMAL, [setting.name]: setting.defaultValue! })).toEqual(loadConfig(MINIMAL));
    }
  });

  it.each([
    ["https://contoso.openai.azure.com/", "https://contoso.openai.azure.com"],
    ["https://contoso.openai.azure.com///", "https://contoso.openai.azure.com"],
    ["https://contoso.openai.azure.com/openai/v1", "https://contoso.openai.azure.com"],
    ["https://contoso.openai.azure.com/openai/v1/", "https://contoso.openai.azure.com"],
    ["https://contoso.cognitiveservices.azure.com", "https://contoso.cognitiveservices.azure.com"],
    ["https://contoso.services.ai.azure.com/openai", "https://contoso.services.ai.azure.com"],
    ["http://127.0.0.1:4010", "http://127.0.0.1:4010"],
    ["http://localhost:4010/openai/v1/", "http://localhost:4010"],
  ])("normalises the endpoint %s", (raw, expected) => {
    expect(loadConfig({ ...MINIMAL, AZURE_OPENAI_ENDPOINT: raw }).openai.endpoint).toBe(expected);
  });

  it("reports every problem at once, each naming the setting and the fix", () => {
    const problems = problemsOf({
      AZURE_OPENAI_API_STYLE: "v2",
      AZURE_OPENAI_API_VERSION: "latest",
      AZURE_OPENAI_TIMEOUT_MS: "soon",
      EMBEDDINGS_QUEUE: "Bad_Queue",
      AUDIO_BLOB_TRIGGER_SOURCE: "Polling",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^AZURE_OPENAI_ENDPOINT is missing; set it in local.settings.json/),
      'AZURE_OPENAI_API_STYLE must be one of "v1", "dated" (got "v2")',
      'AZURE_OPENAI_API_VERSION is not an api-version Azure OpenAI serves (got "latest"); the nearest ones it serves: 2024-10-21, 2025-03-01-preview, 2025-04-01-preview',
      'AZURE_OPENAI_TIMEOUT_MS must be a whole number from 1000 to 3600000 (got "soon")',
      expect.stringMatching(/^AzureWebJobsStorage is missing; set it to `UseDevelopmentStorage=true`/),
      'AUDIO_BLOB_TRIGGER_SOURCE must be one of "LogsAndContainerScan", "EventGrid" (got "Polling")',
      expect.stringMatching(/^EMBEDDINGS_QUEUE is not a valid queue name \(got "Bad_Queue"\)/),
    ]);
  });

  it("the error message lists the problems for the startup log", () => {
    expect(() => loadConfig({})).toThrow(/Invalid configuration \(2 problems\):\n {2}- AZURE_OPENAI_ENDPOINT is missing/);
  });

  it.each([
    ["not a url", /AZURE_OPENAI_ENDPOINT is not a URL \(got "not a url"\)/],
    ["http://contoso.openai.azure.com", /AZURE_OPENAI_ENDPOINT must use https .*only for a local simulator/],
    ["https://contoso.openai.azure.com/openai/deployments/x", /has an unexpected path "\/openai\/deployments\/x"/],
    ["https://contoso.openai.azure.com/?api-version=1", /must not carry a query string/],
    ["https://user:pw@contoso.openai.azure.com", /must not contain credentials/],
  ])("rejects the endpoint %s", (endpoint, message) => {
    const problems = problemsOf({ ...MINIMAL, AZURE_OPENAI_ENDPOINT: endpoint });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it.each([
    ["AZURE_OPENAI_CHAT_DEPLOYMENT", "my deployment", /is not a valid deployment name/],
    ["AZURE_OPENAI_MAX_RETRIES", "11", /must be a whole number from 0 to 10 \(got "11"\)/],
    ["HTTP_AUTH_LEVEL", "admin", /must be one of "function", "anonymous"/],
    ["HTTP_MAX_REQUEST_BYTES", "1.5", /must be a whole number/],
    ["AUDIO_CONTAINER", "ab", /is not a valid container name/],
    ["TRANSCRIPTS_CONTAINER", "a--b", /is not a valid container name/],
    ["TRANSCRIPTION_MAX_CHUNK_BYTES", "26000000", /from 65536 to 25000000/],
    ["AzureWebJobsStorage", "hello", /is not a storage connection string/],
  ])("rejects %s=%s with a specific message", (name, value, message) => {
    const problems = problemsOf({ ...MINIMAL, [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name} `));
    expect(problems[0]).toMatch(message);
  });

  it("accepts every api-version Azure OpenAI serves, GA and preview", () => {
    for (const version of API_VERSIONS)
      expect(loadConfig({ ...MINIMAL, AZURE_OPENAI_API_VERSION: version }).openai.apiVersion).toBe(version);
    expect(API_VERSIONS).toEqual(expect.arrayContaining(["2024-10-21", "2024-06-01", "2025-04-01-preview", "2024-12-01-preview"]));
  });

  it.each([
    // A date Azure never released, an impossible date, a preview suffix on a GA date, a model version.
    ["2099-01-01", "2024-10-21, 2025-03-01-preview, 2025-04-01-preview"],
    ["2024-13-45", "2024-10-21, 2025-02-01-preview, 2025-03-01-preview"],
    ["2024-10-22", "2024-10-01-preview, 2024-10-21, 2024-12-01-preview"],
    ["2024-10-21-preview", "2024-10-01-preview, 2024-10-21, 2024-12-01-preview"],
    ["2023-11-01-preview", "2023-10-01-preview, 2023-12-01-preview, 2024-02-01"],
    ["0613", "2024-10-21, 2025-03-01-preview, 2025-04-01-preview"],
  ])("refuses the api-version %s, naming the nearest ones Azure serves", (version, nearest) => {
    expect(problemsOf({ ...MINIMAL, AZURE_OPENAI_API_VERSION: version })).toEqual([
      `AZURE_OPENAI_API_VERSION is not an api-version Azure OpenAI serves (got "${version}"); the nearest ones it serves: ${nearest}`,
    ]);
  });

  it("rejects a chunk overlap that is not smaller than the chunk", () => {
    const problems = problemsOf({ ...MINIMAL, EMBEDDINGS_CHUNK_TOKENS: "100", EMBEDDINGS_CHUNK_OVERLAP_TOKENS: "100" });
    expect(problems).toEqual(["EMBEDDINGS_CHUNK_OVERLAP_TOKENS must be smaller than EMBEDDINGS_CHUNK_TOKENS (100); lower the overlap"]);
  });

  it("accepts the identity-based storage form the Functions host reads", () => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com",
      AzureWebJobsStorage__blobServiceUri: "https://acct.blob.core.windows.net",
      AzureWebJobsStorage__queueServiceUri: "https://acct.queue.core.windows.net",
      AzureWebJobsStorage__credential: "managedidentity",
      AzureWebJobsStorage__clientId: "00000000-0000-0000-0000-000000000001",
    });
    expect(config.storage).toEqual({
      kind: "identity",
      blobServiceUri: "https://acct.blob.core.windows.net",
      queueServiceUri: "https://acct.queue.core.windows.net",
      clientId: "00000000-0000-0000-0000-000000000001",
    });
  });

  it("derives both service URIs from AzureWebJobsStorage__accountName", () => {
    const config = loadConfig({ AZURE_OPENAI_ENDPOINT: "https://c.openai.azure.com", AzureWebJobsStorage__accountName: "acct" });
    expect(config.storage).toMatchObject({
      blobServiceUri: "https://acct.blob.core.windows.net",
      queueServiceUri: "https://acct.queue.core.windows.net",
    });
  });

  it("names the missing half of the identity-based storage form", () => {
    const problems = problemsOf({
      AZURE_OPENAI_ENDPOINT: "https://c.openai.azure.com",
      AzureWebJobsStorage__blobServiceUri: "https://acct.blob.core.windows.net",
    });
    expect(problems).toEqual([expect.stringMatching(/^AzureWebJobsStorage__queueServiceUri is missing/)]);
  });

  it("uses the managed identity when the platform offers one", () => {
    expect(loadConfig({ ...MINIMAL, IDENTITY_ENDPOINT: "http://127.0.0.1:1/msi" }).openai.managedIdentityAvailable).toBe(true);
  });

  it("treats blank values as unset", () => {
    expect(loadConfig({ ...MINIMAL, AZURE_OPENAI_API_KEY: "  ", AZURE_OPENAI_API_STYLE: "" }).openai).toMatchObject({
      apiKey: undefined,
      apiStyle: "v1",
    });
  });
});

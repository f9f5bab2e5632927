import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, openAISecrets } from "../../src/config.js";
import { ConfigurationError } from "../../src/errors.js";
import { modelsFor } from "../../src/routing/index.js";

const BASE = {
  AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com",
  AzureWebJobsStorage: "UseDevelopmentStorage=true",
};

/** A table serving the three capabilities the app needs, plus whatever `extra` adds. */
function table(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    "gpt-4o": [
      { deployment: "prod-4o-eu", endpoint: "https://contoso-eu.openai.azure.com", capabilities: ["chat", "responses"], weight: 3 },
      { deployment: "gpt-4o", endpoint: "https://contoso-us.openai.azure.com/", capabilities: ["chat", "responses"], priority: 1 },
    ],
    "text-embedding-3-small": [{ deployment: "text-embedding-3-small", capabilities: ["embeddings"] }],
    whisper: [{ deployment: "whisper", capabilities: ["transcription"] }],
    ...extra,
  });
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return [...(error as ConfigurationError).problems];
  }
  throw new Error("expected a ConfigurationError");
}

describe("AZURE_OPENAI_DEPLOYMENTS", () => {
  it("without it, each deployment setting is a one-backend model on AZURE_OPENAI_ENDPOINT", () => {
    const { openai } = loadConfig({ ...BASE, AZURE_OPENAI_API_KEY: "k" });
    expect([...openai.routing.table.models.keys()]).toEqual([
      "gpt-4o-mini",
      "text-embedding-3-small",
      "whisper",
      "gpt-4o-mini-tts",
      "gpt-image-1",
    ]);
    expect(openai.routing.table.models.get("gpt-4o-mini")).toEqual([
      expect.objectContaining({
        name: "contoso/gpt-4o-mini",
        endpoint: "https://contoso.openai.azure.com",
        deployment: "gpt-4o-mini",
        apiKey: "k",
        capabilities: ["chat", "responses"],
      }),
    ]);
  });

  it("reads aliases, several resources, priorities and weights, and fills the defaults from the other settings", () => {
    const { openai } = loadConfig({ ...BASE, AZURE_OPENAI_API_KEY: "key-of-contoso", AZURE_OPENAI_DEPLOYMENTS: table() });
    const [eu, us] = openai.routing.table.models.get("gpt-4o") ?? [];
    expect(eu).toMatchObject({ name: "contoso-eu/prod-4o-eu", deployment: "prod-4o-eu", priority: 0, weight: 3, apiStyle: "v1" });
    // A key belongs to one resource: it is never sent to another.
    expect(eu?.apiKey).toBeUndefined();
    expect(us).toMatchObject({ endpoint: "https://contoso-us.openai.azure.com", priority: 1, weight: 1 });
    expect(openai.routing.table.models.get("whisper")?.[0]).toMatchObject({
      endpoint: "https://contoso.openai.azure.com",
      apiKey: "key-of-contoso",
    });
    // Defaults: the first model serving each capability; speech and images off when none serves them.
    expect(openai.deployments).toEqual({
      chat: "gpt-4o",
      embeddings: "text-embedding-3-small",
      transcription: "whisper",
      speech: undefined,
      images: undefined,
      completions: undefined,
    });
    expect(modelsFor(openai, "chat")).toEqual(["gpt-4o"]);
  });

  it("takes a backend's key from the setting it names, never lets it into JSON or a spread, and masks it", () => {
    const json = table({
      other: [{ deployment: "d", endpoint: "https://other.openai.azure.com", capabilities: ["chat"], apiKeySetting: "OTHER_KEY" }],
    });
    const { openai } = loadConfig({ ...BASE, AZURE_OPENAI_API_KEY: "main-key", AZURE_OPENAI_DEPLOYMENTS: json, OTHER_KEY: "other-key" });
    const backend = openai.routing.table.models.get("other")?.[0];
    expect(backend?.apiKey).toBe("other-key");
    expect(JSON.stringify(backend)).not.toContain("other-key");
    expect(JSON.stringify({ ...backend })).not.toContain("other-key");
    expect(openAISecrets(openai).sort()).toEqual(["main-key", "other-key"]);
  });

  it("refuses AZURE_OPENAI_API_KEY when no backend is on its resource, instead of sending it elsewhere", () => {
    const elsewhere = JSON.stringify({
      chat: [{ deployment: "c", endpoint: "https://a.openai.azure.com", capabilities: ["chat", "embeddings", "transcription"] }],
    });
    expect(problemsOf({ ...BASE, AZURE_OPENAI_API_KEY: "k", AZURE_OPENAI_DEPLOYMENTS: elsewhere })).toEqual([
      expect.stringMatching(/^AZURE_OPENAI_API_KEY is set, but no backend in AZURE_OPENAI_DEPLOYMENTS is on AZURE_OPENAI_ENDPOINT/),
    ]);
  });

  it("defaults Responses to a model that serves it", () => {
    const chatOnly = JSON.parse(table({ o3: [{ deployment: "o3", capabilities: ["chat", "responses"] }] })) as Record<
      string,
      { capabilities: string[] }[]
    >;
    for (const backend of chatOnly["gpt-4o"]!) backend.capabilities = ["chat"];
    const { openai } = loadConfig({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: JSON.stringify(chatOnly) });
    expect(modelsFor(openai, "chat")[0]).toBe("gpt-4o");
    expect(modelsFor(openai, "responses")).toEqual(["o3"]);
  });

  it("lets the deployment settings pick each capability's default model from the table", () => {
    const json = table({ "gpt-4.1-mini": [{ deployment: "mini", capabilities: ["chat"] }] });
    const { openai } = loadConfig({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: json, AZURE_OPENAI_CHAT_DEPLOYMENT: "gpt-4.1-mini" });
    expect(openai.deployments.chat).toBe("gpt-4.1-mini");
    expect(modelsFor(openai, "chat")).toEqual(["gpt-4.1-mini", "gpt-4o"]);
  });

  it("reads the table from a JSON file", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "routing-")), "deployments.json");
    writeFileSync(file, table());
    const { openai } = loadConfig({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: file });
    expect(openai.routing.table.models.get("gpt-4o")).toHaveLength(2);
  });

  it("needs no AZURE_OPENAI_ENDPOINT when every backend names its endpoint", () => {
    const everywhere = JSON.stringify({
      chat: [{ deployment: "c", endpoint: "https://a.openai.azure.com", capabilities: ["chat", "embeddings", "transcription"] }],
    });
    const { openai } = loadConfig({ AzureWebJobsStorage: "UseDevelopmentStorage=true", AZURE_OPENAI_DEPLOYMENTS: everywhere });
    expect(openai.endpoint).toBe("https://a.openai.azure.com");
  });

  it("lists every problem of a bad table at once, each saying where and how to fix it", () => {
    const bad = JSON.stringify({
      "gpt-4o": [
        { deployment: "a", capabilities: ["chat", "telepathy"], priority: -1, weight: 0, colour: "red" },
        { deployment: "b c", capabilities: [], endpoint: "http://remote.example.com" },
        { deployment: "d", capabilities: ["chat"], apiStyle: "v2", apiVersion: "2019-01-01", apiKeySetting: "MISSING_KEY" },
      ],
      "bad name!": [{ deployment: "x", capabilities: ["chat"] }],
      empty: [],
    });
    const problems = problemsOf({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: bad });
    const expected = [
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[0] has an unknown field "colour"',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[0].capabilities has "telepathy"; use chat, responses, embeddings',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[0].priority must be a whole number >= 0',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[0].weight must be a number > 0',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[1].deployment must be the Azure deployment name',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[1].capabilities must be a non-empty array',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[1].endpoint must use https',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[2].apiStyle must be "v1" or "dated"',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[2].apiVersion must be an api-version Azure OpenAI serves',
      'AZURE_OPENAI_DEPLOYMENTS "gpt-4o"[2].apiKeySetting names "MISSING_KEY", which is not set',
      'AZURE_OPENAI_DEPLOYMENTS has an invalid model name "bad name!"',
      'AZURE_OPENAI_DEPLOYMENTS "empty" must be a non-empty array of backends',
    ];
    for (const phrase of expected)
      expect(
        problems.some((problem) => problem.startsWith(phrase)),
        `${phrase}\n in ${problems.join("\n")}`,
      ).toBe(true);
  });

  it("refuses JSON that is not a table, a missing file, and defaults the table cannot serve", () => {
    expect(problemsOf({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: "{not json" })[0]).toMatch(/^AZURE_OPENAI_DEPLOYMENTS is not valid JSON/);
    expect(problemsOf({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: "[1]" })[0]).toMatch(
      /^AZURE_OPENAI_DEPLOYMENTS must be a JSON object mapping each model name/,
    );
    expect(problemsOf({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: "routing/missing.json" })[0]).toMatch(
      /^AZURE_OPENAI_DEPLOYMENTS names the file .*missing\.json, which cannot be read \(ENOENT\)/,
    );
    const chatOnly = JSON.stringify({ "gpt-4o": [{ deployment: "gpt-4o", capabilities: ["chat"] }] });
    const problems = problemsOf({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: chatOnly, AZURE_OPENAI_SPEECH_DEPLOYMENT: "tts" });
    expect(problems).toEqual(
      expect.arrayContaining([
        'AZURE_OPENAI_DEPLOYMENTS lists no model for embeddings, which the app needs; add a backend with "capabilities": ["embeddings"]',
        'AZURE_OPENAI_DEPLOYMENTS lists no model for transcription, which the app needs; add a backend with "capabilities": ["transcription"]',
        expect.stringMatching(
          /^AZURE_OPENAI_SPEECH_DEPLOYMENT names the model "tts", which AZURE_OPENAI_DEPLOYMENTS does not list for speech/,
        ),
      ]),
    );
  });

  it("refuses two backends of one model with the same name", () => {
    const twins = table({
      twin: [
        { deployment: "same", capabilities: ["chat"] },
        { deployment: "same", capabilities: ["chat"] },
      ],
    });
    expect(problemsOf({ ...BASE, AZURE_OPENAI_DEPLOYMENTS: twins })).toEqual([
      'AZURE_OPENAI_DEPLOYMENTS "twin" has two backends named "contoso/same"; give each a distinct "name"',
    ]);
  });
});

/**
 * Issue item 9: the Bicep agrees with the app (setting names, defaults, deployment names,
 * containers), assigns only checked least-privilege roles, and keeps the security defaults.
 * Every check runs on infra/ and, in the "catches" tests, on a copy with one regression, which it
 * must report: a check that cannot fail proves nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, SETTINGS } from "../../src/config.js";
import {
  appSettings,
  appSettingsAsEnvironment,
  checkAppSettings,
  checkAzdWiring,
  checkDeployments,
  checkEventGrid,
  checkModuleCalls,
  checkOutputs,
  checkParametersFile,
  checkRoleAssignments,
  checkRoutingSetting,
  checkSecurityDefaults,
  checkStorageNames,
} from "./lib/infra-checks.js";
import type { Value } from "./lib/bicep-model.js";
import { loadInfra, type Infra } from "./lib/infra-model.js";
import { routingTableProblems } from "./lib/routing-contract.js";
import { mutatedInfra, type Edit } from "./lib/mutated-copy.js";

const infraDir = path.resolve(import.meta.dirname, "../../infra");
const repoRoot = path.resolve(infraDir, "..");

type Check = (infra: Infra) => string[];

/** Runs `check` on a copy of infra/ with `edits` applied and returns its problems. */
async function problemsAfter(edits: Edit[], check: Check, overrides: Record<string, Value> = {}): Promise<string[]> {
  const mutant = mutatedInfra(edits);
  try {
    return check(await loadInfra(mutant.dir, overrides));
  } finally {
    mutant.cleanup();
  }
}

const settingsCheck: Check = (infra) => checkAppSettings(infra, SETTINGS);
const deploymentsCheck: Check = (infra) => checkDeployments(infra, SETTINGS);

describe("infra/ as it is", async () => {
  const infra = await loadInfra(infraDir);
  const checks: [string, Check][] = [
    ["app settings", settingsCheck],
    ["model deployments", deploymentsCheck],
    ["containers and queues", checkStorageNames],
    ["role assignments", checkRoleAssignments],
    ["security defaults", checkSecurityDefaults],
    ["Event Grid wiring", checkEventGrid],
    ["main.parameters.json", checkParametersFile],
    ["module calls", checkModuleCalls],
    ["outputs", checkOutputs],
    ["azd wiring", checkAzdWiring],
  ];
  for (const [name, check] of checks) {
    it(`passes the ${name} check`, () => {
      expect(check(infra)).toEqual([]);
    });
  }

  it("produces app settings that src/config.ts loads, keyless, identity-based and on Event Grid", () => {
    const env = appSettingsAsEnvironment(appSettings(infra));
    const config = loadConfig(env);
    expect(config.openai.endpoint).toBe("https://oai-sample.openai.azure.com");
    expect(config.openai.apiKey).toBeUndefined();
    expect(config.openai.apiStyle).toBe("v1");
    expect(config.openai.clientId).toBe("11111111-2222-4333-8444-555555555555");
    // The app's metrics go to the deployment's Application Insights (METRICS_EXPORT auto + its connection string).
    expect(config.metrics.export).toBe("azure-monitor");
    expect(config.storage).toEqual({
      kind: "identity",
      blobServiceUri: "https://stsample.blob.core.windows.net/",
      queueServiceUri: "https://stsample.queue.core.windows.net/",
      clientId: "11111111-2222-4333-8444-555555555555",
    });
    expect(config.audio.triggerSource).toBe("EventGrid");
    // Speech and images are off by default: their settings are present but empty, which the app reads as off.
    expect(env.AZURE_OPENAI_SPEECH_DEPLOYMENT).toBe("");
    expect(env.AZURE_OPENAI_IMAGES_DEPLOYMENT).toBe("");
    expect(env.AZURE_OPENAI_COMPLETIONS_DEPLOYMENT).toBe("");
    expect(config.openai.deployments).toStrictEqual({
      chat: "gpt-4o-mini",
      embeddings: "text-embedding-3-small",
      transcription: "whisper",
      speech: undefined,
      images: undefined,
      completions: undefined,
    });
    expect(config.speech).toEqual({ queue: "speech", container: "speech" });
    expect(config.images).toEqual({ queue: "images", container: "images" });
  });

  it("with the optional models switched on, deploys them and tells the app their names", async () => {
    const on = await loadInfra(infraDir, {
      speechDeploymentEnabled: true,
      imagesDeploymentEnabled: true,
      completionsDeploymentEnabled: true,
    });
    expect(deploymentsCheck(on)).toEqual([]);
    const config = loadConfig(appSettingsAsEnvironment(appSettings(on)));
    expect(config.openai.deployments).toMatchObject({
      speech: "gpt-4o-mini-tts",
      images: "gpt-image-1",
      completions: "gpt-35-turbo-instruct",
    });
  });

  it("with an existing account, takes the optional deployment names as given", async () => {
    const existing = await loadInfra(infraDir, {
      existingOpenAiAccountName: "my-openai",
      speechDeploymentName: "my-tts",
      imagesDeploymentName: "",
    });
    expect(existing.modules.get("openAi")?.deployed).toBe(false);
    const settings = appSettings(existing);
    expect(settings.AZURE_OPENAI_SPEECH_DEPLOYMENT).toBe("my-tts");
    expect(settings.AZURE_OPENAI_IMAGES_DEPLOYMENT).toBe("");
    expect(settings.AZURE_OPENAI_COMPLETIONS_DEPLOYMENT).toBe("gpt-35-turbo-instruct");
  });

  it("fills AZURE_OPENAI_DEPLOYMENTS with the routing table of the default deployments on the one account", () => {
    const json = appSettingsAsEnvironment(appSettings(infra)).AZURE_OPENAI_DEPLOYMENTS!;
    expect(routingTableProblems(json)).toEqual([]);
    const endpoint = "https://oai-sample.openai.azure.com";
    expect(JSON.parse(json)).toEqual({
      "gpt-4o-mini": [{ deployment: "gpt-4o-mini", endpoint, capabilities: ["chat", "responses"], priority: 1, weight: 1 }],
      "text-embedding-3-small": [{ deployment: "text-embedding-3-small", endpoint, capabilities: ["embeddings"], priority: 1, weight: 1 }],
      whisper: [{ deployment: "whisper", endpoint, capabilities: ["transcription"], priority: 1, weight: 1 }],
    });
    expect(infra.modules.get("openAiSecondary")?.deployed).toBe(false);
    expect(infra.modules.get("openAiSecondaryAccess")?.deployed).toBe(false);
  });

  for (const role of ["spread", "spillover"] as const) {
    it(`with secondaryOpenAiLocation (${role}), creates a second account with the same deployments, grants it the same role and routes to both`, async () => {
      const two = await loadInfra(infraDir, { secondaryOpenAiLocation: "eastus2", secondaryOpenAiRole: role, vnetEnabled: true });
      expect(deploymentsCheck(two)).toEqual([]);
      expect(checkSecurityDefaults(two)).toEqual([]);
      const first = two.modules.get("openAi")!;
      const second = two.modules.get("openAiSecondary")!;
      expect(second.deployed).toBe(true);
      expect(second.scope.params.location).toBe("eastus2");
      expect(second.scope.params.deployments).toEqual(first.scope.params.deployments);
      expect(second.scope.params.disableLocalAuth).toBe(true);
      expect(second.scope.params.publicNetworkAccess).toBe("Disabled");
      const access = two.modules.get("openAiSecondaryAccess")!;
      expect(access.deployed).toBe(true);
      expect(access.scope.params.accountName).toBe(second.scope.params.name);
      expect(access.scope.params.appPrincipalId).toEqual(two.modules.get("openAiAccess")!.scope.params.appPrincipalId);
      expect(two.modules.get("openAiSecondaryPrivateEndpoint")?.deployed).toBe(true);
      // The per-capability settings do not change; the table gains the second account's backends.
      const env = appSettingsAsEnvironment(appSettings(two));
      expect(loadConfig(env).openai.deployments).toMatchObject({
        chat: "gpt-4o-mini",
        embeddings: "text-embedding-3-small",
        transcription: "whisper",
      });
      expect(routingTableProblems(env.AZURE_OPENAI_DEPLOYMENTS!)).toEqual([]);
      // The app's own settings check reads the table: one backend per account for each model.
      expect(
        loadConfig(env)
          .openai.routing.table.models.get("gpt-4o-mini")
          ?.map((b) => b.endpoint),
      ).toEqual(["https://oai-sample.openai.azure.com", "https://oai-secondary-sample.openai.azure.com"]);
      const table = JSON.parse(env.AZURE_OPENAI_DEPLOYMENTS!) as Record<string, { endpoint: string; priority: number }[]>;
      expect(Object.keys(table).sort()).toEqual(["gpt-4o-mini", "text-embedding-3-small", "whisper"]);
      for (const backends of Object.values(table)) {
        expect(backends.map((b) => [b.endpoint, b.priority])).toEqual([
          ["https://oai-sample.openai.azure.com", 1],
          ["https://oai-secondary-sample.openai.azure.com", role === "spread" ? 1 : 2],
        ]);
      }
    });
  }

  it("with an existing account and a second one, routes to the optional models named on the existing one and to what the second account gets", async () => {
    const two = await loadInfra(infraDir, { existingOpenAiAccountName: "my-openai", secondaryOpenAiLocation: "swedencentral" });
    expect(deploymentsCheck(two)).toEqual([]);
    const table = JSON.parse(appSettingsAsEnvironment(appSettings(two)).AZURE_OPENAI_DEPLOYMENTS!) as Record<string, unknown[]>;
    expect(table["gpt-4o-mini"]).toHaveLength(2);
    // Speech is named on the existing account (taken as given) but not switched on, so the second account lacks it.
    expect(table["gpt-4o-mini-tts"]).toEqual([
      { deployment: "gpt-4o-mini-tts", endpoint: "https://oai-sample.openai.azure.com", capabilities: ["speech"], priority: 1, weight: 1 },
    ]);
  });

  it("routes a custom list: aliases shared by several deployments, priorities and weights, and per-capability settings naming the first", async () => {
    const custom = await loadInfra(infraDir, {
      openAiDeployments: [
        {
          name: "chat-a",
          alias: "gpt-4o",
          modelName: "gpt-4o",
          modelVersion: "2024-11-20",
          skuName: "GlobalStandard",
          capacity: 10,
          capabilities: ["chat"],
          weight: 3,
        },
        {
          name: "chat-b",
          alias: "gpt-4o",
          modelName: "gpt-4o",
          modelVersion: "2024-11-20",
          skuName: "Standard",
          capacity: 10,
          capabilities: ["chat", "responses"],
          priority: 2,
        },
        {
          name: "emb",
          modelName: "text-embedding-3-large",
          modelVersion: "1",
          skuName: "Standard",
          capacity: 50,
          capabilities: ["embeddings"],
        },
      ],
    });
    const settings = appSettings(custom);
    // With the table, a per-capability setting names the default model callers send: the first chat deployment's alias.
    expect(settings.AZURE_OPENAI_CHAT_DEPLOYMENT).toBe("gpt-4o");
    expect(settings.AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT).toBe("emb");
    expect(settings.AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT).toBe("");
    expect(settings.EMBEDDINGS_MAX_TOKENS_PER_REQUEST).toBe("50000");
    const table = JSON.parse(appSettingsAsEnvironment(settings).AZURE_OPENAI_DEPLOYMENTS!) as Record<string, unknown[]>;
    expect(table).toEqual({
      "gpt-4o": [
        { deployment: "chat-a", endpoint: "https://oai-sample.openai.azure.com", capabilities: ["chat"], priority: 1, weight: 3 },
        {
          deployment: "chat-b",
          endpoint: "https://oai-sample.openai.azure.com",
          capabilities: ["chat", "responses"],
          priority: 2,
          weight: 1,
        },
      ],
      emb: [{ deployment: "emb", endpoint: "https://oai-sample.openai.azure.com", capabilities: ["embeddings"], priority: 1, weight: 1 }],
    });
  });

  it("with the stage-2 flag on, deploys the Event Grid subscription module; with it off (first provision), does not", async () => {
    expect(infra.modules.get("blobEventSubscription")?.deployed).toBe(false);
    const stage2 = await loadInfra(infraDir, { blobEventSubscriptionEnabled: true });
    expect(stage2.modules.get("blobEventSubscription")?.deployed).toBe(true);
  });

  it("uses an existing Azure OpenAI account instead of creating one when its name is given", async () => {
    expect(infra.modules.get("openAi")?.deployed).toBe(true);
    const existing = await loadInfra(infraDir, { existingOpenAiAccountName: "my-openai", existingOpenAiResourceGroupName: "rg-ai" });
    expect(existing.modules.get("openAi")?.deployed).toBe(false);
    const access = existing.modules.get("openAiAccess")!;
    expect(access.scope.params.accountName).toBe("my-openai");
    expect(access.call.body.text).toContain("scope: resourceGroup(openAiResourceGroupName)");
    expect(existing.mainScope.params.existingOpenAiResourceGroupName).toBe("rg-ai");
  });

  it("names the function that the app registers with the Event Grid blob trigger, when the app registers one", () => {
    const sources = readdirSync(path.join(repoRoot, "src"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .map((file) => readFileSync(path.join(repoRoot, "src", file), "utf8"));
    const blobTriggers = sources.flatMap((source) => [...source.matchAll(/app\.storageBlob\(\s*["'`]([^"'`]+)["'`]/g)].map((m) => m[1]));
    // Until the transcription pipeline lands there is nothing to compare; afterwards the name must match.
    if (blobTriggers.length > 0) expect(blobTriggers).toContain("transcribeAudio");
    expect(readFileSync(path.join(infraDir, "app/blob-event-subscription.bicep"), "utf8")).toContain(
      "param functionName string = 'transcribeAudio'",
    );
  });
});

describe("the checks catch regressions", () => {
  const cases: { name: string; check: Check; edits: Edit[]; expected: RegExp; overrides?: Record<string, Value> }[] = [
    // Security defaults
    {
      name: "shared key access turned on",
      check: checkSecurityDefaults,
      edits: [{ file: "app/storage.bicep", find: "allowSharedKeyAccess: false", replace: "allowSharedKeyAccess: true" }],
      expected: /allowSharedKeyAccess/,
    },
    {
      name: "storage TLS lowered",
      check: checkSecurityDefaults,
      edits: [{ file: "app/storage.bicep", find: "minimumTlsVersion: 'TLS1_2'", replace: "minimumTlsVersion: 'TLS1_0'" }],
      expected: /minimumTlsVersion/,
    },
    {
      name: "public blob access allowed",
      check: checkSecurityDefaults,
      edits: [{ file: "app/storage.bicep", find: "allowBlobPublicAccess: false", replace: "allowBlobPublicAccess: true" }],
      expected: /allowBlobPublicAccess/,
    },
    {
      name: "HTTPS-only storage off",
      check: checkSecurityDefaults,
      edits: [{ file: "app/storage.bicep", find: "supportsHttpsTrafficOnly: true", replace: "supportsHttpsTrafficOnly: false" }],
      expected: /supportsHttpsTrafficOnly/,
    },
    {
      name: "function app httpsOnly off",
      check: checkSecurityDefaults,
      edits: [{ file: "app/function-app.bicep", find: "httpsOnly: true", replace: "httpsOnly: false" }],
      expected: /httpsOnly/,
    },
    {
      name: "FTP allowed",
      check: checkSecurityDefaults,
      edits: [{ file: "app/function-app.bicep", find: "ftpsState: 'Disabled'", replace: "ftpsState: 'FtpsOnly'" }],
      expected: /ftpsState/,
    },
    {
      name: "app TLS lowered",
      check: checkSecurityDefaults,
      edits: [{ file: "app/function-app.bicep", find: "      minTlsVersion: '1.2'", replace: "      minTlsVersion: '1.0'" }],
      expected: /minTlsVersion/,
    },
    {
      name: "Azure OpenAI keys on by default (main.bicep)",
      check: checkSecurityDefaults,
      edits: [
        { file: "main.bicep", find: "param openAiDisableLocalAuth bool = true", replace: "param openAiDisableLocalAuth bool = false" },
        { file: "main.parameters.json", find: "AZURE_OPENAI_DISABLE_LOCAL_AUTH=true", replace: "AZURE_OPENAI_DISABLE_LOCAL_AUTH=false" },
      ],
      expected: /disableLocalAuth/,
    },
    {
      name: "Azure OpenAI keys on by default (azd parameters only)",
      check: checkSecurityDefaults,
      edits: [
        { file: "main.parameters.json", find: "AZURE_OPENAI_DISABLE_LOCAL_AUTH=true", replace: "AZURE_OPENAI_DISABLE_LOCAL_AUTH=false" },
      ],
      expected: /disableLocalAuth/,
    },
    {
      name: "Application Insights local auth on",
      check: checkSecurityDefaults,
      edits: [{ file: "app/monitoring.bicep", find: "DisableLocalAuth: true", replace: "DisableLocalAuth: false" }],
      expected: /DisableLocalAuth/,
    },
    {
      name: "a Windows (non-reserved) plan",
      check: checkSecurityDefaults,
      edits: [{ file: "app/function-app.bicep", find: "reserved: true", replace: "reserved: false" }],
      expected: /reserved/,
    },
    {
      name: "a Consumption (Y1) plan instead of Flex",
      check: checkSecurityDefaults,
      edits: [{ file: "app/function-app.bicep", find: "name: 'FC1'", replace: "name: 'Y1'" }],
      expected: /FC1/,
    },
    {
      name: "Node 18",
      check: checkSecurityDefaults,
      edits: [
        { file: "main.bicep", find: "param nodeVersion string = '20'", replace: "param nodeVersion string = '18'" },
        { file: "main.parameters.json", find: "FUNCTIONS_NODE_VERSION=20", replace: "FUNCTIONS_NODE_VERSION=18" },
      ],
      expected: /Node 20 or 22/,
    },
    {
      name: "hard-coded instance memory",
      check: checkSecurityDefaults,
      edits: [{ file: "app/function-app.bicep", find: "instanceMemoryMB: instanceMemoryMB", replace: "instanceMemoryMB: 2048" }],
      expected: /instanceMemoryMB/,
    },
    {
      name: "public network access no longer a parameter",
      check: checkSecurityDefaults,
      edits: [{ file: "app/openai.bicep", find: "publicNetworkAccess: publicNetworkAccess", replace: "publicNetworkAccess: 'Enabled'" }],
      expected: /publicNetworkAccess/,
    },
    {
      name: "an output exposing a key",
      check: checkSecurityDefaults,
      edits: [
        {
          file: "app/identity.bicep",
          find: "output id string = identity.id",
          replace: "output id string = identity.id\noutput storageKey string = 'x'",
        },
      ],
      expected: /expose a secret/,
    },
    {
      name: "listKeys outside the webhook module",
      check: checkSecurityDefaults,
      edits: [
        {
          file: "app/function-app.bicep",
          find: "output name string = functionApp.name",
          replace: "output name string = functionApp.name\nvar leaked = functionApp.listKeys()",
        },
      ],
      expected: /lists keys/,
    },
    // App settings
    {
      name: "a misspelt setting name",
      check: settingsCheck,
      edits: [{ file: "app/function-app.bicep", find: "AZURE_OPENAI_CHAT_DEPLOYMENT:", replace: "AZURE_OPENAI_CHAT_DEPLOYMNET:" }],
      expected:
        /AZURE_OPENAI_CHAT_DEPLOYMENT is read by src\/config\.ts.*does not set it|AZURE_OPENAI_CHAT_DEPLOYMNET, which src\/config\.ts does not read/,
    },
    {
      name: "a required setting dropped",
      check: settingsCheck,
      edits: [{ file: "app/function-app.bicep", find: "  AZURE_OPENAI_ENDPOINT: openAiEndpoint\n", replace: "" }],
      expected: /AZURE_OPENAI_ENDPOINT is read by src\/config\.ts \(required\)/,
    },
    {
      name: "an API key setting",
      check: settingsCheck,
      edits: [
        {
          file: "app/function-app.bicep",
          find: "  AZURE_OPENAI_ENDPOINT: openAiEndpoint\n",
          replace: "  AZURE_OPENAI_ENDPOINT: openAiEndpoint\n  AZURE_OPENAI_API_KEY: 'k'\n",
        },
      ],
      expected: /AZURE_OPENAI_API_KEY must not be set/,
    },
    {
      name: "a storage connection string",
      check: settingsCheck,
      edits: [
        {
          file: "app/function-app.bicep",
          find: "  AzureWebJobsStorage__credential: 'managedidentity'\n",
          replace: "  AzureWebJobsStorage__credential: 'managedidentity'\n  AzureWebJobsStorage: 'DefaultEndpointsProtocol=https'\n",
        },
      ],
      expected: /AzureWebJobsStorage must not be set/,
    },
    {
      name: "the log-scanning blob trigger on Flex",
      check: settingsCheck,
      edits: [
        {
          file: "app/function-app.bicep",
          find: "AUDIO_BLOB_TRIGGER_SOURCE: 'EventGrid'",
          replace: "AUDIO_BLOB_TRIGGER_SOURCE: 'LogsAndContainerScan'",
        },
      ],
      expected: /AUDIO_BLOB_TRIGGER_SOURCE/,
    },
    {
      name: "a tuning default drifting from src/config.ts",
      check: settingsCheck,
      edits: [{ file: "app/function-app.bicep", find: "EMBEDDINGS_MAX_WAIT_MS: '20'", replace: "EMBEDDINGS_MAX_WAIT_MS: '25'" }],
      expected: /EMBEDDINGS_MAX_WAIT_MS is '25'/,
    },
    {
      name: "FUNCTIONS_WORKER_RUNTIME on Flex",
      check: settingsCheck,
      edits: [
        {
          file: "app/function-app.bicep",
          find: "  AZURE_CLIENT_ID: identityClientId\n",
          replace: "  AZURE_CLIENT_ID: identityClientId\n  FUNCTIONS_WORKER_RUNTIME: 'node'\n",
        },
      ],
      expected: /FUNCTIONS_WORKER_RUNTIME must not be set on Flex/,
    },
    {
      name: "key-based telemetry",
      check: settingsCheck,
      edits: [{ file: "app/function-app.bicep", find: ";Authorization=AAD'", replace: "'" }],
      expected: /APPLICATIONINSIGHTS_AUTHENTICATION_STRING/,
    },
    {
      name: "a shared-key storage credential",
      check: settingsCheck,
      edits: [
        {
          file: "app/function-app.bicep",
          find: "AzureWebJobsStorage__credential: 'managedidentity'",
          replace: "AzureWebJobsStorage__credential: 'sharedkey'",
        },
      ],
      expected: /AzureWebJobsStorage__credential/,
    },
    {
      name: "the wrong client id for storage",
      check: settingsCheck,
      edits: [
        {
          file: "app/function-app.bicep",
          find: "AzureWebJobsStorage__clientId: identityClientId",
          replace: "AzureWebJobsStorage__clientId: identityId",
        },
      ],
      expected: /AzureWebJobsStorage__clientId/,
    },
    // Deployments
    {
      name: "a chat deployment name that disagrees with the config default",
      check: deploymentsCheck,
      edits: [
        {
          file: "main.bicep",
          find: "param chatDeploymentName string = 'gpt-4o-mini'",
          replace: "param chatDeploymentName string = 'chat'",
        },
        { file: "main.parameters.json", find: "AZURE_OPENAI_CHAT_DEPLOYMENT=gpt-4o-mini", replace: "AZURE_OPENAI_CHAT_DEPLOYMENT=chat" },
      ],
      expected: /named 'chat' but AZURE_OPENAI_CHAT_DEPLOYMENT defaults to 'gpt-4o-mini'/,
    },
    {
      name: "a setting wired to the wrong deployment",
      check: deploymentsCheck,
      edits: [
        {
          file: "main.bicep",
          find: "    embeddingsDeploymentName: embeddingsSettingValue\n",
          replace: "    embeddingsDeploymentName: chatSettingValue\n",
        },
      ],
      expected: /AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT is 'gpt-4o-mini'/,
    },
    {
      name: "a turned-off model's setting left at its name (the app would call a deployment that does not exist)",
      check: deploymentsCheck,
      edits: [
        {
          file: "main.bicep",
          find: "var speechSettingValue = firstServing(primaryOpenAiDeployments, 'speech')",
          replace: "var speechSettingValue = speechDeploymentName",
        },
      ],
      expected: /AZURE_OPENAI_SPEECH_DEPLOYMENT is 'gpt-4o-mini-tts' but must be '' \(turned off\)/,
    },
    {
      name: "an optional deployment without its switch",
      check: deploymentsCheck,
      edits: [{ file: "main.bicep", find: "    enabled: completionsDeploymentEnabled\n", replace: "" }],
      expected: /gpt-35-turbo-instruct deployment must say enabled: completionsDeploymentEnabled/,
    },
    {
      name: "every listed deployment created, switched off or not",
      check: deploymentsCheck,
      edits: [{ file: "main.bicep", find: "filter(optionalOpenAiDeployments, o => o.enabled)", replace: "optionalOpenAiDeployments" }],
      expected: /only the enabled deployments/,
    },
    {
      name: "deployments created in parallel",
      check: deploymentsCheck,
      edits: [{ file: "app/openai.bicep", find: "@batchSize(1)\n", replace: "" }],
      expected: /batchSize/,
    },
    {
      name: "a hard-coded model capacity",
      check: deploymentsCheck,
      edits: [{ file: "main.bicep", find: "capacity: transcriptionDeploymentCapacity", replace: "capacity: 1" }],
      expected: /capacity must come from a main\.bicep parameter/,
    },
    {
      name: "the whisper deployment removed",
      check: deploymentsCheck,
      edits: [{ file: "main.bicep", find: "modelName: 'whisper'", replace: "modelName: 'gpt-4o-mini-transcribe'" }],
      expected: /no whisper deployment/,
    },
    {
      name: "a per-capability setting naming a deployment that does not serve it",
      check: deploymentsCheck,
      edits: [
        {
          file: "main.bicep",
          find: "firstServing(primaryOpenAiDeployments, 'transcription')",
          replace: "firstServing(primaryOpenAiDeployments, 'chat')",
        },
      ],
      expected: /AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT is 'gpt-4o-mini' but the first deployment serving transcription is 'whisper'/,
    },
    {
      name: "the second account given other deployments",
      check: deploymentsCheck,
      edits: [
        {
          file: "main.bicep",
          find: "    location: secondaryOpenAiLocation\n    tags: tags\n    disableLocalAuth: openAiDisableLocalAuth\n    publicNetworkAccess: vnetEnabled ? 'Disabled' : openAiPublicNetworkAccess\n    deployments: createdOpenAiDeployments",
          replace:
            "    location: secondaryOpenAiLocation\n    tags: tags\n    disableLocalAuth: openAiDisableLocalAuth\n    publicNetworkAccess: vnetEnabled ? 'Disabled' : openAiPublicNetworkAccess\n    deployments: openAiDeployments",
        },
      ],
      expected: /same deployments as the first/,
    },
    {
      name: "the second account with keys on",
      check: checkSecurityDefaults,
      edits: [
        {
          file: "main.bicep",
          find: "    location: secondaryOpenAiLocation\n    tags: tags\n    disableLocalAuth: openAiDisableLocalAuth",
          replace: "    location: secondaryOpenAiLocation\n    tags: tags\n    disableLocalAuth: false",
        },
      ],
      expected: /second Azure OpenAI account must be given the same disableLocalAuth/,
    },
    {
      name: "the routing table left without the second account",
      check: (infra) => checkRoutingSetting(infra),
      edits: [{ file: "main.bicep", find: "  useSecondaryOpenAi\n    ? [", replace: "  false\n    ? [" }],
      expected: /AZURE_OPENAI_DEPLOYMENTS is .* but the accounts' deployments make/,
      overrides: { secondaryOpenAiLocation: "eastus2" },
    },
    {
      name: "spillover ignored (the second account at the same priority)",
      check: (infra) => checkRoutingSetting(infra),
      edits: [{ file: "main.bicep", find: "secondaryOpenAiRole == 'spillover' ? 1 : 0", replace: "0" }],
      expected: /AZURE_OPENAI_DEPLOYMENTS is .*"priority":1.* but the accounts' deployments make .*"priority":2/,
      overrides: { secondaryOpenAiLocation: "eastus2", secondaryOpenAiRole: "spillover" },
    },
    {
      name: "a routing table endpoint with the trailing slash",
      check: (infra) => checkRoutingSetting(infra),
      edits: [
        { file: "app/openai-routing.bicep", find: "endpoint: trimEndpoint(account.endpoint)", replace: "endpoint: '${account.endpoint}/'" },
      ],
      expected: /endpoint must be https:\/\/HOST with no trailing slash/,
    },
    // Containers and queues
    {
      name: "the per-caller counts' blobs kept for ever",
      check: checkStorageNames,
      edits: [{ file: "main.bicep", find: "    expiringBlobPrefixes: ['${callerLimitsContainerName}/']\n", replace: "" }],
      expected: /blobs under 'caller-limits\/' never expire/,
    },
    {
      name: "the per-caller counts' container not created",
      check: checkStorageNames,
      edits: [{ file: "main.bicep", find: "      callerLimitsContainerName\n    ]", replace: "    ]" }],
      expected: /container 'caller-limits' is not created/,
    },
    {
      name: "the embeddings queue not created",
      check: checkStorageNames,
      edits: [{ file: "main.bicep", find: "    queueNames: [\n      embeddingsQueueName\n", replace: "    queueNames: [\n" }],
      expected: /queue 'embeddings'/,
    },
    {
      name: "the speech queue not created",
      check: checkStorageNames,
      edits: [{ file: "main.bicep", find: "      speechQueueName\n      imagesQueueName\n", replace: "      imagesQueueName\n" }],
      expected: /queue 'speech' \(SPEECH_QUEUE\)/,
    },
    {
      name: "the images container not created",
      check: checkStorageNames,
      edits: [
        { file: "main.bicep", find: "      speechContainerName\n      imagesContainerName\n", replace: "      speechContainerName\n" },
      ],
      expected: /container 'images' \(IMAGES_CONTAINER\)/,
    },
    {
      name: "the transcripts container not created",
      check: checkStorageNames,
      edits: [
        {
          file: "main.bicep",
          find: "      transcriptsContainerName\n      embeddingsContainerName",
          replace: "      embeddingsContainerName",
        },
      ],
      expected: /container 'transcripts'/,
    },
    // Roles
    {
      name: "a mistyped role GUID",
      check: checkRoleAssignments,
      edits: [
        {
          file: "app/storage-access.bicep",
          find: /'974c5e8b-45b9-4653-ba55-5f855dd0fb88'/g,
          replace: "'974c5e8b-45b9-4653-ba55-5f855dd0fb89'",
        },
      ],
      expected: /974c5e8b-45b9-4653-ba55-5f855dd0fb89 is not an Azure built-in role/,
    },
    {
      name: "Contributor instead of a data role",
      check: checkRoleAssignments,
      edits: [
        {
          file: "app/monitoring-access.bicep",
          find: /3913510d-42f4-4e42-8a64-420c390055eb/g,
          replace: "b24988ac-6180-42a0-ab88-20f7382dd24c",
        },
      ],
      expected: /b24988ac-6180-42a0-ab88-20f7382dd24c \(Contributor\) is not one the templates may assign/,
    },
    {
      name: "a role assignment without its comment",
      check: checkRoleAssignments,
      edits: [{ file: "app/storage-access.bicep", find: /\/\/ Storage Queue Data Contributor:[^\n]*\n/, replace: "" }],
      expected: /must name the role \('Storage Queue Data Contributor'\)/,
    },
    {
      name: "an assignment named for another role",
      check: checkRoleAssignments,
      edits: [
        {
          file: "app/storage-access.bicep",
          find: "name: guid(storage.id, principalId, '974c5e8b-45b9-4653-ba55-5f855dd0fb88')",
          replace: "name: guid(storage.id, principalId, 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')",
        },
      ],
      expected: /third argument must be the role GUID/,
    },
    {
      name: "an assignment name without the principal",
      check: checkRoleAssignments,
      edits: [
        {
          file: "app/monitoring-access.bicep",
          find: "guid(applicationInsights.id, principalId,",
          replace: "guid(applicationInsights.id, 'fixed',",
        },
      ],
      expected: /second argument must be principalId/,
    },
    {
      name: "the OpenAI role dropped",
      check: checkRoleAssignments,
      edits: [
        { file: "app/openai-access.bicep", find: /\/\/ Cognitive Services OpenAI User:[^\n]*\nresource [\s\S]*?\n}\n/g, replace: "" },
      ],
      expected: /no 'Cognitive Services OpenAI User' assignment on a Microsoft\.CognitiveServices\/accounts/,
    },
    {
      name: "a Table role with no tables",
      check: checkRoleAssignments,
      edits: [{ file: "app/function-app.bicep", find: "  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint\n", replace: "" }],
      expected: /Table Data Contributor is assigned but no tables are used/,
    },
    {
      name: "the host's table endpoint without the Table role",
      check: checkRoleAssignments,
      edits: [
        { file: "app/storage-access.bicep", find: /\/\/ Storage Table Data Contributor:[^\n]*\nresource [\s\S]*?\n}\n/, replace: "" },
      ],
      expected: /AzureWebJobsStorage__tableServiceUri is set but no Storage Table Data Contributor/,
    },
    {
      name: "a role id with the right name in its comment but another role's GUID",
      check: checkRoleAssignments,
      edits: [
        {
          file: "app/event-grid-topic.bicep",
          find: /ba92f5b4-2d11-453d-a403-e96b0029c9fe/g,
          replace: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        },
      ],
      expected: /must name the role \('Storage Blob Data Owner'\)/,
    },
    {
      name: "the non-existent Storage Blob Data Contributor id this template once had",
      check: checkRoleAssignments,
      edits: [
        {
          file: "app/event-grid-topic.bicep",
          find: /ba92f5b4-2d11-453d-a403-e96b0029c9fe/g,
          replace: "ba92f7b4-2d11-453d-a403-e96b1029c69b",
        },
      ],
      expected: /ba92f7b4-2d11-453d-a403-e96b1029c69b is not an Azure built-in role/,
    },
    {
      name: "an embeddings batch larger than a minute of the capacity",
      check: deploymentsCheck,
      edits: [{ file: "main.bicep", find: "min(300000, embeddingsCapacity * 1000)", replace: "300000" }],
      expected: /EMBEDDINGS_MAX_TOKENS_PER_REQUEST is '300000' but must be the smaller/,
    },
    // Event Grid
    {
      name: "the webhook pointing at another function",
      check: checkEventGrid,
      edits: [{ file: "main.bicep", find: "functionName: 'transcribeAudio'", replace: "functionName: 'transcribe'" }],
      expected: /webhook URL/,
    },
    {
      name: "the subscription filtering the wrong container",
      check: checkEventGrid,
      edits: [
        {
          file: "main.bicep",
          find: "    audioContainerName: audioContainerName\n    deadLetterContainerName",
          replace: "    audioContainerName: 'uploads'\n    deadLetterContainerName",
        },
      ],
      expected: /audio container/,
    },
    {
      name: "the subscription in stage 1 (before the key exists)",
      check: checkEventGrid,
      edits: [
        {
          file: "main.bicep",
          find: "'app/blob-event-subscription.bicep' = if (blobEventSubscriptionEnabled)",
          replace: "'app/blob-event-subscription.bicep' = if (true)",
        },
      ],
      expected: /stage 2/,
    },
    {
      name: "no dead-lettering",
      check: checkEventGrid,
      edits: [
        {
          file: "app/blob-event-subscription.bicep",
          find: "blobContainerName: deadLetterContainerName",
          replace: "blobContainerName: 'elsewhere'",
        },
      ],
      expected: /dead-letter/,
    },
    {
      name: "every event type delivered",
      check: checkEventGrid,
      edits: [
        {
          file: "app/blob-event-subscription.bicep",
          find: "        'Microsoft.Storage.BlobCreated'\n",
          replace: "        'Microsoft.Storage.BlobCreated'\n        'Microsoft.Storage.BlobDeleted'\n",
        },
      ],
      expected: /only Microsoft\.Storage\.BlobCreated/,
    },
    {
      name: "the postdeploy hook removed",
      check: checkEventGrid,
      edits: [{ file: "../azure.yaml", find: / {2}postdeploy:[\s\S]*?(?= {2}postdown:)/, replace: "" }],
      expected: /postdeploy/,
    },
    // Parameters, modules, outputs, azd
    {
      name: "a parameters file default disagreeing with main.bicep",
      check: checkParametersFile,
      edits: [
        { file: "main.parameters.json", find: "FUNCTIONS_MAXIMUM_INSTANCE_COUNT=40", replace: "FUNCTIONS_MAXIMUM_INSTANCE_COUNT=100" },
      ],
      expected: /'maximumInstanceCount' defaults to 40/,
    },
    {
      name: "a parameters file entry main.bicep lacks",
      check: checkParametersFile,
      edits: [{ file: "main.parameters.json", find: '"httpAuthLevel"', replace: '"httpAuthLvl"' }],
      expected: /'httpAuthLvl', which main\.bicep does not declare/,
    },
    {
      name: "a module call missing a required parameter",
      check: checkModuleCalls,
      edits: [{ file: "main.bicep", find: "    storageQueueEndpoint: storage.outputs.queueEndpoint\n", replace: "" }],
      expected: /does not pass required parameter 'storageQueueEndpoint'/,
    },
    {
      name: "a lower-case output",
      check: checkOutputs,
      edits: [{ file: "main.bicep", find: "output AZURE_FUNCTION_APP_URL string", replace: "output functionAppUrl string" }],
      expected: /AZURE_FUNCTION_APP_URL|UPPER_SNAKE/,
    },
    {
      name: "a remote build of the finished bundle",
      check: checkAzdWiring,
      edits: [{ file: "../azure.yaml", find: "remoteBuild: false", replace: "remoteBuild: true" }],
      expected: /remoteBuild: false/,
    },
    {
      name: "the azd service tag renamed",
      check: checkAzdWiring,
      edits: [{ file: "main.bicep", find: "var serviceName = 'api'", replace: "var serviceName = 'web'" }],
      expected: /azd-service-name: api/,
    },
  ];

  for (const { name, check, edits, expected, overrides } of cases) {
    it(`catches ${name}`, async () => {
      const problems = await problemsAfter(edits, check, overrides);
      expect(problems.length, `no problem reported for: ${name}`).toBeGreaterThan(0);
      expect(problems.join("\n")).toMatch(expected);
    });
  }
});

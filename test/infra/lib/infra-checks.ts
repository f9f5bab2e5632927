/**
 * Consistency and security checks over the infra model. Each check returns a list of problems
 * (empty when the templates are right), phrased so the message says what to fix; the tests run
 * them on infra/ and on mutated copies to prove each check catches its regression.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { CALLER_LIMITS_CONTAINER } from "../../../src/caller-limits/blob-counter-store.js";
import {
  evaluate,
  isPlainObject,
  objectEntries,
  propertyNode,
  stringLiteral,
  Unknown,
  type BicepFile,
  type ResourceDeclaration,
  type Scope,
  type Value,
} from "./bicep-model.js";
import { allFiles, instancesOf, moduleInstance, resourcesOfType, type Infra, type ModuleInstance } from "./infra-model.js";
import type { Node } from "./bicep-parser.js";
import { expectedRoutingTable, routingTableProblems, type AccountEntry, type DeploymentEntry } from "./routing-contract.js";
import { BUILT_IN_ROLES, EXPECTED_ROLE_SCOPES, ROLE_TABLE } from "./role-table.js";

export interface SettingInfo {
  name: string;
  required: boolean;
  defaultValue?: string;
}

/** Settings the app reads that must never be set in Azure, and why. */
export const NEVER_SET_IN_AZURE: Readonly<Record<string, string>> = {
  AZURE_OPENAI_API_KEY: "keys are disabled on the account; the app uses its managed identity",
  AzureWebJobsStorage: "a connection string needs account keys; the identity form AzureWebJobsStorage__* is used",
};

/** Settings whose Azure value deliberately differs from the app's local default. */
export const AZURE_OVERRIDES: Readonly<Record<string, string>> = {
  AUDIO_BLOB_TRIGGER_SOURCE: "EventGrid",
  // Whisper's default quota is 3 requests per minute: one chunk of a file at a time.
  TRANSCRIPTION_MAX_CONCURRENCY: "1",
};

/** Settings whose Azure value follows a model capacity; checkDeployments checks them against it. */
export const CAPACITY_BOUND_SETTINGS = new Set(["EMBEDDINGS_MAX_TOKENS_PER_REQUEST"]);

/**
 * The optional deployments: off by default (main.bicep says why), each with its own switch. Their
 * setting is the deployment's name when it is created (or an existing account is used), and
 * empty otherwise, which the app reads as turned off; checkDeployments checks them.
 */
export const OPTIONAL_DEPLOYMENTS: readonly { setting: string; model: string; enabledParam: string }[] = [
  { setting: "AZURE_OPENAI_SPEECH_DEPLOYMENT", model: "gpt-4o-mini-tts", enabledParam: "speechDeploymentEnabled" },
  { setting: "AZURE_OPENAI_IMAGES_DEPLOYMENT", model: "gpt-image-1", enabledParam: "imagesDeploymentEnabled" },
  { setting: "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT", model: "gpt-35-turbo-instruct", enabledParam: "completionsDeploymentEnabled" },
];
const OPTIONAL_DEPLOYMENT_SETTINGS = new Set(OPTIONAL_DEPLOYMENTS.map((d) => d.setting));

/** Settings the Functions host or the platform reads, not the app's config module. */
export const PLATFORM_SETTINGS = new Set([
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
  "AzureWebJobsStorage__tableServiceUri",
  // The host's own cap on request bodies (100 MB unless set): must let the largest audio upload through.
  "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
]);

/** Settings Flex Consumption rejects (it takes the runtime from functionAppConfig). */
export const FLEX_FORBIDDEN_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_CONTENTSHARE",
  "SCM_DO_BUILD_DURING_DEPLOYMENT",
  "ENABLE_ORYX_BUILD",
];

const TRANSCRIBE_FUNCTION_NAME = "transcribeAudio";

// ---------------------------------------------------------------------------------------------
// Locating things

/** The single instance of a module file that main.bicep calls. @throws Error when there is not exactly one. */
export function singleInstance(infra: Infra, relativePath: string): ModuleInstance {
  const instances = instancesOf(infra, relativePath);
  if (instances.length !== 1) throw new Error(`expected main.bicep to call ${relativePath} once, found ${instances.length}`);
  return instances[0]!;
}

function singleResource(model: BicepFile, type: string, options: { existing?: boolean } = {}): ResourceDeclaration {
  const matches = resourcesOfType(model, type).filter((r) => options.existing === undefined || r.existing === options.existing);
  if (matches.length !== 1) throw new Error(`expected one ${type} in ${model.file}, found ${matches.length}`);
  return matches[0]!;
}

function valueAt(resource: ResourceDeclaration, dottedPath: string, scope: Scope): Value | undefined {
  const node = propertyNode(resource.body, dottedPath);
  return node ? evaluate(node, scope) : undefined;
}

/**
 * The function app's settings as deployed with azd's defaults: unknown-at-deploy-time values stay `Unknown`.
 * @throws Error when function-app.bicep has no `appsettings` config resource.
 */
export function appSettings(infra: Infra): Record<string, Value> {
  const app = singleInstance(infra, "app/function-app.bicep");
  const config = resourcesOfType(app.model, "Microsoft.Web/sites/config").find((r) => valueAt(r, "name", app.scope) === "appsettings");
  if (!config) throw new Error("function-app.bicep declares no Microsoft.Web/sites/config named 'appsettings'");
  const properties = valueAt(config, "properties", app.scope);
  if (!isPlainObject(properties)) throw new Error("the appsettings properties are not an object the tests can read");
  return properties;
}

/** Sample values for the deploy-time unknowns in the app settings, keyed by their Bicep source. */
const PRIMARY_ENDPOINT_SOURCE = "trimEndpoint(openAiAccess.outputs.endpoint)";
const SECONDARY_ENDPOINT_SOURCE = "trimEndpoint(openAiSecondaryAccess!.outputs.endpoint)";

export const DEPLOY_TIME_SAMPLES: readonly [RegExp, string][] = [
  [/^openAiAccess\.outputs\.endpoint$/, "https://oai-sample.openai.azure.com"],
  // The routing table's endpoints: the accounts' endpoints, trimmed again by app/openai-routing.bicep.
  [/^trimEndpoint\(openAiAccess\.outputs\.endpoint\)$/, "https://oai-sample.openai.azure.com"],
  [/^openAiSecondaryAccess!\.outputs\.endpoint$/, "https://oai-secondary-sample.openai.azure.com"],
  [/^trimEndpoint\(openAiSecondaryAccess!\.outputs\.endpoint\)$/, "https://oai-secondary-sample.openai.azure.com"],
  [/^storage\.outputs\.blobEndpoint$/, "https://stsample.blob.core.windows.net/"],
  [/^storage\.outputs\.queueEndpoint$/, "https://stsample.queue.core.windows.net/"],
  [/^storage\.outputs\.tableEndpoint$/, "https://stsample.table.core.windows.net/"],
  [/^identity\.outputs\.clientId$/, "11111111-2222-4333-8444-555555555555"],
  [
    /^monitoring\.outputs\.applicationInsightsConnectionString$/,
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://sample.in.applicationinsights.azure.com/",
  ],
];

/**
 * The app settings as an environment, with deploy-time values replaced by samples.
 * @throws Error naming a setting whose deploy-time value has no sample.
 */
export function appSettingsAsEnvironment(settings: Record<string, Value>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      env[name] = String(value);
    } else if (value instanceof Unknown) {
      env[name] = value.text.includes("«")
        ? value.text.replace(/«([^»]*)»/g, (_, text: string) => sampleFor(name, text))
        : sampleFor(name, value.text);
    } else {
      throw new Error(`app setting ${name} is not a string (got ${JSON.stringify(value)}); app settings are strings`);
    }
  }
  return env;
}

function sampleFor(setting: string, source: string): string {
  const sample = DEPLOY_TIME_SAMPLES.find(([pattern]) => pattern.test(source));
  if (!sample) throw new Error(`app setting ${setting} comes from \`${source}\`, which has no sample in DEPLOY_TIME_SAMPLES; add one`);
  return sample[1];
}

// ---------------------------------------------------------------------------------------------
// Checks

/** Every setting the config reads is set (except the never-set ones), with exactly its name and the right defaults. */
export function checkAppSettings(infra: Infra, settingInfos: readonly SettingInfo[]): string[] {
  const problems: string[] = [];
  const settings = appSettings(infra);
  const known = new Map(settingInfos.map((s) => [s.name, s]));
  for (const info of settingInfos) {
    const never = NEVER_SET_IN_AZURE[info.name];
    if (never) {
      if (info.name in settings) problems.push(`${info.name} must not be set in Azure: ${never}`);
      continue;
    }
    // accountName is an alternative to the two service URIs; the templates use the URIs.
    if (info.name === "AzureWebJobsStorage__accountName") continue;
    if (!(info.name in settings)) {
      problems.push(`${info.name} is read by src/config.ts${info.required ? " (required)" : ""} but function-app.bicep does not set it`);
    }
  }
  for (const name of Object.keys(settings)) {
    if (!known.has(name) && !PLATFORM_SETTINGS.has(name)) {
      problems.push(`function-app.bicep sets ${name}, which src/config.ts does not read (a typo? the names must match exactly)`);
    }
    if (FLEX_FORBIDDEN_SETTINGS.includes(name)) problems.push(`${name} must not be set on Flex Consumption (use functionAppConfig)`);
    if (/KEY|SECRET|PASSWORD|SAS/i.test(name)) problems.push(`${name} looks like a secret; the app runs with no keys in Azure`);
  }
  for (const info of settingInfos) {
    const value = settings[info.name];
    if (
      value === undefined ||
      value instanceof Unknown ||
      CAPACITY_BOUND_SETTINGS.has(info.name) ||
      OPTIONAL_DEPLOYMENT_SETTINGS.has(info.name)
    )
      continue;
    const expected = AZURE_OVERRIDES[info.name] ?? info.defaultValue;
    if (expected !== undefined && String(value) !== expected) {
      problems.push(
        `${info.name} is '${String(value)}' in Bicep but '${expected}' is expected (src/config.ts default${AZURE_OVERRIDES[info.name] ? ", overridden for Azure" : ""})`,
      );
    }
  }
  const identityKeyed = ["AZURE_CLIENT_ID", "AzureWebJobsStorage__clientId"].map((name) => settings[name]);
  if (!identityKeyed.every((v) => v instanceof Unknown && v.text === "identity.outputs.clientId")) {
    problems.push(
      "AZURE_CLIENT_ID and AzureWebJobsStorage__clientId must both be the user-assigned identity's client id (identity.outputs.clientId)",
    );
  }
  if (settings.AzureWebJobsStorage__credential !== "managedidentity") {
    problems.push("AzureWebJobsStorage__credential must be 'managedidentity'");
  }
  // The host refuses a body over its cap before the app can answer 413 itself, so the cap must exceed the app's.
  const hostBodyLimit = Number(settings.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT ?? 104857600);
  if (!(hostBodyLimit > Number(settings.HTTP_MAX_AUDIO_BYTES))) {
    problems.push(
      `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (${String(settings.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT ?? "unset: 104857600")}) must exceed HTTP_MAX_AUDIO_BYTES (${String(settings.HTTP_MAX_AUDIO_BYTES)}), or the host refuses audio uploads the app accepts`,
    );
  }
  const auth = settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING;
  if (!(auth instanceof Unknown) || auth.text !== "ClientId=«identity.outputs.clientId»;Authorization=AAD") {
    problems.push(
      "APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be 'ClientId=<identity client id>;Authorization=AAD' (Entra ID ingestion)",
    );
  }
  return problems;
}

/**
 * The deployments: the default list creates the three defaults one at a time, with the names the
 * settings, outputs and config defaults use; the optional models are appended by their switches;
 * each per-capability setting names the first deployment serving it; a second account gets the
 * same list; and AZURE_OPENAI_DEPLOYMENTS lists every deployment of every account.
 */
export function checkDeployments(infra: Infra, settingInfos: readonly SettingInfo[]): string[] {
  const problems: string[] = [];
  const settings = appSettings(infra);
  const openAi = moduleInstance(infra, "openAi");
  const deployments = openAi.scope.params.deployments;
  if (!Array.isArray(deployments))
    problems.push("openai.bicep is not given a deployments array (main.bicep's list could not be evaluated)");
  const listed = Array.isArray(deployments) ? deployments.filter(isPlainObject) : [];
  const byModel = new Map(listed.map((d) => [d.modelName, d]));
  const useExisting = infra.mainScope.params.existingOpenAiAccountName;
  const existing = typeof useExisting === "string" && useExisting !== "";
  // The primary account's deployments: those created, or with an existing account the list plus the optional ones named.
  const served = infra.main.vars.has("primaryOpenAiDeployments")
    ? evaluate(infra.main.vars.get("primaryOpenAiDeployments")!.value, infra.mainScope)
    : undefined;
  if (!Array.isArray(served)) problems.push("main.bicep must say what the first account serves (var primaryOpenAiDeployments)");
  const servedList = Array.isArray(served) ? served.filter(isPlainObject) : [];
  const firstServing = (capability: string): string => {
    const found = servedList.find((d) => Array.isArray(d.capabilities) && d.capabilities.includes(capability));
    return found ? String(found.name) : "";
  };
  const expected: [setting: string, model: string, capability: string][] = [
    ["AZURE_OPENAI_CHAT_DEPLOYMENT", "gpt-4o-mini", "chat"],
    ["AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT", "text-embedding-3-small", "embeddings"],
    ["AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT", "whisper", "transcription"],
  ];
  for (const [setting, model, capability] of expected) {
    const deployment = byModel.get(model);
    if (!deployment) {
      problems.push(`no ${model} deployment is created`);
      continue;
    }
    const configDefault = settingInfos.find((s) => s.name === setting)?.defaultValue;
    if (deployment.name !== configDefault)
      problems.push(
        `the ${model} deployment is named '${String(deployment.name)}' but ${setting} defaults to '${configDefault}' in src/config.ts`,
      );
    if (!Array.isArray(deployment.capabilities) || !deployment.capabilities.includes(capability))
      problems.push(`the ${model} deployment must serve '${capability}' (its capabilities)`);
    if (settings[setting] !== firstServing(capability))
      problems.push(
        `${setting} is '${String(settings[setting])}' but the first deployment serving ${capability} is '${firstServing(capability)}'`,
      );
    const output = infra.main.outputs.get(setting);
    if (!output || evaluate(output.value, infra.mainScope) !== settings[setting])
      problems.push(`output ${setting} must equal the app setting`);
    if (typeof deployment.modelVersion !== "string" || deployment.modelVersion === "")
      problems.push(`the ${model} deployment has no model version`);
    if (typeof deployment.skuName !== "string" || deployment.skuName === "") problems.push(`the ${model} deployment has no SKU`);
    if (typeof deployment.capacity !== "number" || deployment.capacity < 1) problems.push(`the ${model} deployment has no capacity`);
  }
  // The optional ones: each listed with its switch, created only when switched on, and the app
  // told their name then (or, with an existing account, as named) and an empty string otherwise.
  const optionalVar = infra.main.vars.get("optionalOpenAiDeployments");
  const optionalElements = (optionalVar?.value.type === "array" ? optionalVar.value.namedChildren : []).filter(
    (e): e is Node => e?.type === "object",
  );
  for (const { setting, model, enabledParam } of OPTIONAL_DEPLOYMENTS) {
    const element = optionalElements.find((e) => {
      const name = propertyNode(e, "deployment.modelName");
      return name?.type === "string" && stringLiteral(name) === model;
    });
    if (!element) {
      problems.push(`no ${model} deployment is listed in main.bicep's optionalOpenAiDeployments (switched by ${enabledParam})`);
      continue;
    }
    const enabledNode = propertyNode(element, "enabled");
    if (enabledNode?.text !== enabledParam || infra.main.params.get(enabledParam)?.typeText !== "bool")
      problems.push(`the ${model} deployment must say enabled: ${enabledParam} (a bool parameter of main.bicep)`);
    const deployment = evaluate(propertyNode(element, "deployment")!, infra.mainScope);
    if (!isPlainObject(deployment)) continue;
    const on = infra.mainScope.params[enabledParam] === true;
    const created = listed.some((d) => d.modelName === model);
    if (created !== on)
      problems.push(
        `the ${model} deployment is ${created ? "created" : "not created"} while ${enabledParam} is ${String(on)}: only the enabled deployments may be created`,
      );
    const expectedValue = on || (existing && deployment.name !== "") ? deployment.name : "";
    if (settings[setting] !== expectedValue)
      problems.push(
        `${setting} is '${String(settings[setting])}' but must be ${expectedValue ? `the ${model} deployment's name '${String(deployment.name)}'` : "'' (turned off) while the deployment is not created"}`,
      );
    const configDefault = settingInfos.find((s) => s.name === setting)?.defaultValue;
    if (configDefault !== undefined && deployment.name !== configDefault)
      problems.push(
        `the ${model} deployment is named '${String(deployment.name)}' but ${setting} defaults to '${configDefault}' in src/config.ts`,
      );
    const output = infra.main.outputs.get(setting);
    if (!output || evaluate(output.value, infra.mainScope) !== settings[setting])
      problems.push(`output ${setting} must equal the app setting`);
  }
  // Azure refuses, every time, a request with more tokens than a minute of the deployment's capacity.
  const embeddingsCapacity = servedList.find((d) => Array.isArray(d.capabilities) && d.capabilities.includes("embeddings"))?.capacity;
  const maxTokens = Number(settings.EMBEDDINGS_MAX_TOKENS_PER_REQUEST);
  const configMaxTokens = Number(settingInfos.find((s) => s.name === "EMBEDDINGS_MAX_TOKENS_PER_REQUEST")?.defaultValue);
  if (typeof embeddingsCapacity === "number" && maxTokens !== Math.min(configMaxTokens, embeddingsCapacity * 1000)) {
    problems.push(
      `EMBEDDINGS_MAX_TOKENS_PER_REQUEST is '${String(settings.EMBEDDINGS_MAX_TOKENS_PER_REQUEST)}' but must be the smaller of the app's default (${configMaxTokens}) and a minute of the embeddings capacity (${embeddingsCapacity * 1000} tokens)`,
    );
  }
  // Version, SKU and capacity of each default and optional deployment are parameters of main.bicep.
  const defaults = infra.main.params.get("openAiDeployments")?.defaultValue;
  if (defaults?.type !== "array") problems.push("main.bicep's openAiDeployments must default to a list of deployments");
  const elements = [
    ...(defaults?.type === "array" ? defaults.namedChildren : []),
    ...optionalElements.map((e) => propertyNode(e, "deployment")),
  ].filter((e): e is Node => e?.type === "object");
  for (const element of elements) {
    for (const key of ["modelVersion", "skuName", "capacity"]) {
      const node = propertyNode(element, key);
      if (!node || node.type !== "identifier" || !infra.main.params.has(node.text)) {
        problems.push(`deployment ${propertyNode(element, "modelName")?.text ?? "?"}: ${key} must come from a main.bicep parameter`);
      }
    }
  }
  // A second account gets exactly what a new first account gets.
  const secondary = infra.modules.get("openAiSecondary");
  if (!secondary) problems.push("main.bicep must call app/openai.bicep as openAiSecondary for the optional second account");
  else {
    if (propertyNode(secondary.call.body, "params.deployments")?.text !== propertyNode(openAi.call.body, "params.deployments")?.text)
      problems.push("the second account must be given the same deployments as the first (same names)");
    if (secondary.call.condition?.text !== "useSecondaryOpenAi")
      problems.push("the second account must be created only when secondaryOpenAiLocation is set (if (useSecondaryOpenAi))");
  }
  const resource = singleResource(openAi.model, "Microsoft.CognitiveServices/accounts/deployments");
  if (!resource.loop || resource.loop.iterable.text !== "deployments")
    problems.push("the model deployments must be one resource looping over the deployments parameter (main.bicep chooses which)");
  if (resource.decorators.get("batchSize")?.childForFieldName("arguments")?.namedChildren[0]?.text !== "1") {
    problems.push("the model deployments must be created one at a time: add @batchSize(1)");
  }
  problems.push(...checkRoutingSetting(infra));
  return problems;
}

/**
 * AZURE_OPENAI_DEPLOYMENTS, with sample endpoints for the accounts: keeps the contract and equals
 * the table computed from what each account serves (the first account's, then the second's with its
 * priority offset).
 */
export function checkRoutingSetting(infra: Infra): string[] {
  const settings = appSettings(infra);
  if (!("AZURE_OPENAI_DEPLOYMENTS" in settings)) return ["function-app.bicep must set AZURE_OPENAI_DEPLOYMENTS (the routing table)"];
  let json: string;
  try {
    json = appSettingsAsEnvironment({ AZURE_OPENAI_DEPLOYMENTS: settings.AZURE_OPENAI_DEPLOYMENTS! }).AZURE_OPENAI_DEPLOYMENTS!;
  } catch (error) {
    return [`AZURE_OPENAI_DEPLOYMENTS cannot be evaluated from the deployments and accounts: ${(error as Error).message}`];
  }
  const problems = routingTableProblems(json);
  if (problems.length > 0) return problems;
  const served = (name: string): DeploymentEntry[] => {
    const value = infra.main.vars.get(name) ? evaluate(infra.main.vars.get(name)!.value, infra.mainScope) : undefined;
    return Array.isArray(value) ? (value.filter(isPlainObject) as unknown as DeploymentEntry[]) : [];
  };
  const secondaryOn = infra.modules.get("openAiSecondary")?.deployed === true;
  const accounts: AccountEntry[] = [
    {
      endpoint: sampleFor("AZURE_OPENAI_DEPLOYMENTS", PRIMARY_ENDPOINT_SOURCE),
      priorityOffset: 0,
      deployments: served("primaryOpenAiDeployments"),
    },
  ];
  if (secondaryOn)
    accounts.push({
      endpoint: sampleFor("AZURE_OPENAI_DEPLOYMENTS", SECONDARY_ENDPOINT_SOURCE),
      priorityOffset: infra.mainScope.params.secondaryOpenAiRole === "spillover" ? 1 : 0,
      deployments: served("createdOpenAiDeployments"),
    });
  const expected = expectedRoutingTable(accounts);
  if (JSON.stringify(JSON.parse(json)) !== JSON.stringify(expected))
    problems.push(`AZURE_OPENAI_DEPLOYMENTS is ${json} but the accounts' deployments make ${JSON.stringify(expected)}`);
  return problems;
}

/** The containers and queues the settings name exist, and the audio subscription watches AUDIO_CONTAINER. */
export function checkStorageNames(infra: Infra): string[] {
  const problems: string[] = [];
  const settings = appSettings(infra);
  const storage = singleInstance(infra, "app/storage.bicep");
  const containers = storage.scope.params.containerNames;
  const queues = storage.scope.params.queueNames;
  if (!Array.isArray(containers) || !Array.isArray(queues)) return ["storage.bicep must be given containerNames and queueNames arrays"];
  for (const setting of ["AUDIO_CONTAINER", "TRANSCRIPTS_CONTAINER", "EMBEDDINGS_CONTAINER", "SPEECH_CONTAINER", "IMAGES_CONTAINER"]) {
    if (!containers.includes(settings[setting]!)) problems.push(`container '${String(settings[setting])}' (${setting}) is not created`);
  }
  for (const setting of ["EMBEDDINGS_QUEUE", "SPEECH_QUEUE", "IMAGES_QUEUE"]) {
    if (!queues.includes(settings[setting]!)) problems.push(`queue '${String(settings[setting])}' (${setting}) is not created`);
  }
  const app = singleInstance(infra, "app/function-app.bicep");
  const deploymentContainer = app.scope.params.deploymentContainerName;
  if (!containers.includes(deploymentContainer!))
    problems.push(`the deployment package container '${String(deploymentContainer)}' is not created`);
  const topic = singleInstance(infra, "app/event-grid-topic.bicep");
  if (!containers.includes(topic.scope.params.deadLetterContainerName!))
    problems.push("the Event Grid dead-letter container is not created");
  if (!containers.includes(CALLER_LIMITS_CONTAINER))
    problems.push(`the per-caller counts' container '${CALLER_LIMITS_CONTAINER}' is not created`);
  // One blob per caller and day, never written again: without an expiry the container grows for ever.
  const expiring = storage.scope.params.expiringBlobPrefixes;
  if (!Array.isArray(expiring) || !expiring.includes(`${CALLER_LIMITS_CONTAINER}/`))
    problems.push(`blobs under '${CALLER_LIMITS_CONTAINER}/' never expire (storage.bicep's expiringBlobPrefixes)`);
  return problems;
}

/** Every role assignment uses a role from the table, is named guid(scope, principal, role) and has a comment naming the role. */
export function checkRoleAssignments(infra: Infra): string[] {
  const problems: string[] = [];
  const assigned: { role: string; scopeType: string }[] = [];
  for (const model of allFiles(infra)) {
    const where = path.relative(infra.dir, model.file);
    for (const resource of resourcesOfType(model, "Microsoft.Authorization/roleAssignments")) {
      const at = `${where}:${resource.line} (${resource.name})`;
      const roleDefinition = propertyNode(resource.body, "properties.roleDefinitionId");
      const roleArgs =
        roleDefinition?.type === "call_expression" && roleDefinition.childForFieldName("function")?.text === "subscriptionResourceId"
          ? (roleDefinition.childForFieldName("arguments")?.namedChildren ?? [])
          : [];
      if (
        roleArgs.length !== 2 ||
        roleArgs[0]?.type !== "string" ||
        stringLiteral(roleArgs[0]) !== "Microsoft.Authorization/roleDefinitions" ||
        roleArgs[1]?.type !== "string"
      ) {
        problems.push(`${at}: roleDefinitionId must be subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '<role GUID>')`);
        continue;
      }
      const roleId = stringLiteral(roleArgs[1]);
      const builtInName = BUILT_IN_ROLES[roleId];
      if (!builtInName) {
        problems.push(
          `${at}: role ${roleId} is not an Azure built-in role (test/infra/data/azure-built-in-roles.json, from Microsoft's reference)`,
        );
        continue;
      }
      const roleName = ROLE_TABLE[roleId];
      if (!roleName) {
        problems.push(
          `${at}: role ${roleId} (${builtInName}) is not one the templates may assign (ALLOWED_ROLES in test/infra/lib/role-table.ts)`,
        );
        continue;
      }
      if (!resource.comment.includes(roleName))
        problems.push(`${at}: the comment above the assignment must name the role ('${roleName}') and say why`);
      const scopeNode = propertyNode(resource.body, "scope");
      const principalNode = propertyNode(resource.body, "properties.principalId");
      const nameNode = propertyNode(resource.body, "name");
      const nameArgs =
        nameNode?.type === "call_expression" && nameNode.childForFieldName("function")?.text === "guid"
          ? (nameNode.childForFieldName("arguments")?.namedChildren ?? [])
          : [];
      if (!scopeNode || !principalNode || nameArgs.length !== 3) {
        problems.push(`${at}: must have a scope, a principalId and name: guid(<scope>.id, <principal>, '<role GUID>')`);
        continue;
      }
      if (nameArgs[0]?.text !== `${scopeNode.text}.id`)
        problems.push(`${at}: guid()'s first argument must be ${scopeNode.text}.id (the scope)`);
      // The principal's id, or the id of the resource whose identity it is (principal ids are known only at deploy time).
      const principal = principalNode.text.replace(/\.identity\.principalId$/, ".id");
      if (nameArgs[1]?.text !== principal) problems.push(`${at}: guid()'s second argument must be ${principal} (the principal)`);
      if (nameArgs[2]?.type !== "string" || stringLiteral(nameArgs[2]) !== roleId)
        problems.push(`${at}: guid()'s third argument must be the role GUID '${roleId}'`);
      const scopeResource = model.resources.find((r) => scopeNode.text === r.name || scopeNode.text.endsWith(`::${r.name}`));
      assigned.push({ role: roleName, scopeType: scopeResource?.type ?? "?" });
    }
  }
  for (const expected of EXPECTED_ROLE_SCOPES) {
    if (!assigned.some((a) => a.role === expected.role && a.scopeType === expected.scopeType)) {
      problems.push(`no '${expected.role}' assignment on a ${expected.scopeType}`);
    }
  }
  const settings = appSettings(infra);
  if (assigned.some((a) => a.role === "Storage Table Data Contributor") && !("AzureWebJobsStorage__tableServiceUri" in settings)) {
    problems.push("Storage Table Data Contributor is assigned but no tables are used (least privilege)");
  }
  if ("AzureWebJobsStorage__tableServiceUri" in settings && !assigned.some((a) => a.role === "Storage Table Data Contributor")) {
    problems.push(
      "AzureWebJobsStorage__tableServiceUri is set but no Storage Table Data Contributor is assigned: the host could not write its diagnostic events",
    );
  }
  return problems;
}

/** The security defaults the issue lists. */
export function checkSecurityDefaults(infra: Infra): string[] {
  const problems: string[] = [];
  const expect = (what: string, actual: Value | undefined, wanted: Value): void => {
    if (actual !== wanted)
      problems.push(`${what} must be ${JSON.stringify(wanted)} (is ${actual === undefined ? "unset" : JSON.stringify(actual)})`);
  };

  const storage = singleInstance(infra, "app/storage.bicep");
  const account = singleResource(storage.model, "Microsoft.Storage/storageAccounts", { existing: false });
  expect("storage allowSharedKeyAccess", valueAt(account, "properties.allowSharedKeyAccess", storage.scope), false);
  expect("storage minimumTlsVersion", valueAt(account, "properties.minimumTlsVersion", storage.scope), "TLS1_2");
  expect("storage supportsHttpsTrafficOnly", valueAt(account, "properties.supportsHttpsTrafficOnly", storage.scope), true);
  expect("storage allowBlobPublicAccess", valueAt(account, "properties.allowBlobPublicAccess", storage.scope), false);
  for (const container of resourcesOfType(storage.model, "Microsoft.Storage/storageAccounts/blobServices/containers")) {
    const access = valueAt(container, "properties.publicAccess", storage.scope);
    if (access !== undefined) expect("container publicAccess", access, "None");
  }

  const app = singleInstance(infra, "app/function-app.bicep");
  const plan = singleResource(app.model, "Microsoft.Web/serverfarms");
  expect("plan sku.name", valueAt(plan, "sku.name", app.scope), "FC1");
  expect("plan sku.tier", valueAt(plan, "sku.tier", app.scope), "FlexConsumption");
  expect("plan properties.reserved (Linux)", valueAt(plan, "properties.reserved", app.scope), true);
  const site = singleResource(app.model, "Microsoft.Web/sites", { existing: false });
  expect("function app kind", valueAt(site, "kind", app.scope), "functionapp,linux");
  expect("function app httpsOnly", valueAt(site, "properties.httpsOnly", app.scope), true);
  expect("function app siteConfig.minTlsVersion", valueAt(site, "properties.siteConfig.minTlsVersion", app.scope), "1.2");
  expect("function app siteConfig.ftpsState", valueAt(site, "properties.siteConfig.ftpsState", app.scope), "Disabled");
  expect("function app identity type", valueAt(site, "identity.type", app.scope), "UserAssigned");
  expect("deployment storage type", valueAt(site, "properties.functionAppConfig.deployment.storage.type", app.scope), "blobContainer");
  expect(
    "deployment storage authentication",
    valueAt(site, "properties.functionAppConfig.deployment.storage.authentication.type", app.scope),
    "UserAssignedIdentity",
  );
  expect("runtime name", valueAt(site, "properties.functionAppConfig.runtime.name", app.scope), "node");
  const nodeVersion = valueAt(site, "properties.functionAppConfig.runtime.version", app.scope);
  if (nodeVersion !== "20" && nodeVersion !== "22")
    problems.push(`runtime version must be Node 20 or 22 (is ${JSON.stringify(nodeVersion)})`);
  for (const key of ["instanceMemoryMB", "maximumInstanceCount"]) {
    const node = propertyNode(site.body, `properties.functionAppConfig.scaleAndConcurrency.${key}`);
    const passed = propertyNode(app.call.body, `params.${key}`);
    if (node?.text !== key || !app.model.params.has(key) || !passed || !infra.main.params.has(passed.text)) {
      problems.push(`scaleAndConcurrency.${key} must be a parameter of function-app.bicep fed from a main.bicep parameter`);
    }
  }
  for (const policy of resourcesOfType(app.model, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")) {
    expect(`basic publishing '${String(valueAt(policy, "name", app.scope))}'`, valueAt(policy, "properties.allow", app.scope), false);
  }

  const openAi = moduleInstance(infra, "openAi");
  const cognitive = singleResource(openAi.model, "Microsoft.CognitiveServices/accounts", { existing: false });
  // The second account: the same keys and network rules as a new first one.
  const secondary = infra.modules.get("openAiSecondary");
  for (const key of ["disableLocalAuth", "publicNetworkAccess"]) {
    const first = propertyNode(openAi.call.body, `params.${key}`)?.text;
    if (secondary && propertyNode(secondary.call.body, `params.${key}`)?.text !== first)
      problems.push(`the second Azure OpenAI account must be given the same ${key} as the first (${first})`);
  }
  expect("Azure OpenAI kind", valueAt(cognitive, "kind", openAi.scope), "OpenAI");
  expect("Azure OpenAI disableLocalAuth (default)", valueAt(cognitive, "properties.disableLocalAuth", openAi.scope), true);
  const subdomain = propertyNode(cognitive.body, "properties.customSubDomainName");
  if (!subdomain) problems.push("Azure OpenAI needs customSubDomainName (Entra ID auth requires a custom subdomain)");
  const network = propertyNode(cognitive.body, "properties.publicNetworkAccess");
  const networkArg = propertyNode(openAi.call.body, "params.publicNetworkAccess");
  // The argument may force 'Disabled' (vnetEnabled) but must otherwise pass the user's choice through.
  const passesParam =
    networkArg &&
    (infra.main.params.has(networkArg.text) ||
      (networkArg.type === "ternary_expression" && networkArg.namedChildren.some((c) => c && infra.main.params.has(c.text))));
  if (network?.type !== "identifier" || !openAi.model.params.has(network.text) || !passesParam) {
    problems.push("Azure OpenAI publicNetworkAccess must be a parameter (of openai.bicep, fed from main.bicep)");
  }

  const monitoring = singleInstance(infra, "app/monitoring.bicep");
  const component = singleResource(monitoring.model, "Microsoft.Insights/components", { existing: false });
  expect("Application Insights DisableLocalAuth", valueAt(component, "properties.DisableLocalAuth", monitoring.scope), true);

  // No secrets leave a deployment: no key listing outside the Event Grid webhook, no secret outputs.
  for (const model of allFiles(infra)) {
    const where = path.relative(infra.dir, model.file);
    if (/listKeys\s*\(/.test(model.source) && !where.endsWith("blob-event-subscription.bicep")) {
      problems.push(`${where} lists keys; only the Event Grid webhook (blob-event-subscription.bicep) may`);
    }
    for (const output of model.outputs.values()) {
      if (/listKeys|listSecrets|listConnectionStrings/.test(output.value.text) || /key|secret|password/i.test(output.name)) {
        problems.push(`${where}: output ${output.name} would expose a secret`);
      }
    }
  }
  return problems;
}

/** The audio blob trigger's Event Grid wiring (stage 1 topic, stage 2 subscription). */
export function checkEventGrid(infra: Infra): string[] {
  const problems: string[] = [];
  const settings = appSettings(infra);
  const topic = singleInstance(infra, "app/event-grid-topic.bicep");
  const systemTopic = singleResource(topic.model, "Microsoft.EventGrid/systemTopics", { existing: false });
  if (valueAt(systemTopic, "properties.topicType", topic.scope) !== "Microsoft.Storage.StorageAccounts")
    problems.push("the system topic must publish the storage account's events (topicType Microsoft.Storage.StorageAccounts)");
  if (propertyNode(systemTopic.body, "properties.source")?.text !== "storage.id")
    problems.push("the system topic's source must be the storage account (storage.id)");

  const subscription = singleInstance(infra, "app/blob-event-subscription.bicep");
  if (subscription.call.condition?.text !== "blobEventSubscriptionEnabled")
    problems.push("the subscription module must be deployed only when blobEventSubscriptionEnabled (stage 2, after the code is deployed)");
  const resource = singleResource(subscription.model, "Microsoft.EventGrid/systemTopics/eventSubscriptions");
  const scope = subscription.scope;
  if (valueAt(resource, "properties.destination.endpointType", scope) !== "WebHook")
    problems.push("the subscription must deliver to a WebHook");
  const url = valueAt(resource, "properties.destination.properties.endpointUrl", scope);
  const urlText = url instanceof Unknown ? url.text : String(url);
  const expectedUrl = new RegExp(
    `^https://«functionApp\\.properties\\.defaultHostName»/runtime/webhooks/blobs\\?functionName=Host\\.Functions\\.${TRANSCRIBE_FUNCTION_NAME}&code=«functionApp::host\\.listKeys\\(\\)\\.systemKeys\\.blobs_extension»$`,
  );
  if (!expectedUrl.test(urlText))
    problems.push(
      `the webhook URL must be https://<host>/runtime/webhooks/blobs?functionName=Host.Functions.${TRANSCRIBE_FUNCTION_NAME}&code=<blobs_extension key> (is ${urlText})`,
    );
  const types = valueAt(resource, "properties.filter.includedEventTypes", scope);
  if (JSON.stringify(types) !== JSON.stringify(["Microsoft.Storage.BlobCreated"]))
    problems.push("the subscription must include only Microsoft.Storage.BlobCreated");
  const subject = valueAt(resource, "properties.filter.subjectBeginsWith", scope);
  if (subject !== `/blobServices/default/containers/${String(settings.AUDIO_CONTAINER)}/`)
    problems.push(
      `the subscription must filter on the audio container (AUDIO_CONTAINER '${String(settings.AUDIO_CONTAINER)}'), is ${JSON.stringify(subject)}`,
    );
  const attempts = valueAt(resource, "properties.retryPolicy.maxDeliveryAttempts", scope);
  const ttl = valueAt(resource, "properties.retryPolicy.eventTimeToLiveInMinutes", scope);
  if (typeof attempts !== "number" || attempts < 1 || typeof ttl !== "number" || ttl < 1)
    problems.push("the subscription needs a retry policy (maxDeliveryAttempts, eventTimeToLiveInMinutes)");
  const deadLetter = valueAt(
    resource,
    "properties.deadLetterWithResourceIdentity.deadLetterDestination.properties.blobContainerName",
    scope,
  );
  if (deadLetter !== topic.scope.params.deadLetterContainerName)
    problems.push("the subscription must dead-letter, with the topic's identity, to the container the topic may write to");
  const flag = infra.parametersJson.parameters.blobEventSubscriptionEnabled?.value;
  if (flag !== "${BLOB_EVENT_SUBSCRIPTION_ENABLED=false}")
    problems.push("main.parameters.json must map blobEventSubscriptionEnabled to ${BLOB_EVENT_SUBSCRIPTION_ENABLED=false}");
  if (!/postdeploy:[\s\S]*infra\/hooks\/postdeploy\.sh/.test(infra.azureYaml))
    problems.push("azure.yaml must run infra/hooks/postdeploy.sh after deploy (stage 2)");
  return problems;
}

/** main.parameters.json and main.bicep agree: names, required parameters, and defaults. */
export function checkParametersFile(infra: Infra): string[] {
  const problems: string[] = [];
  const entries = infra.parametersJson.parameters;
  for (const [name, entry] of Object.entries(entries)) {
    const param = infra.main.params.get(name);
    if (!param) {
      problems.push(`main.parameters.json sets '${name}', which main.bicep does not declare`);
      continue;
    }
    const raw = entry.value;
    const match = typeof raw === "string" ? /^\$\{([A-Z0-9_]+)(?:=([^}]*))?\}$/.exec(raw) : null;
    if (!match) {
      problems.push(`main.parameters.json '${name}' should use azd's \${VAR} or \${VAR=default} form`);
      continue;
    }
    if (match[2] !== undefined && param.defaultValue) {
      const bicepDefault = evaluate(param.defaultValue, infra.mainScope);
      if (String(bicepDefault) !== match[2])
        problems.push(`'${name}' defaults to ${JSON.stringify(bicepDefault)} in main.bicep but to '${match[2]}' in main.parameters.json`);
    }
  }
  for (const [name, param] of infra.main.params) {
    if (!param.defaultValue && !(name in entries))
      problems.push(`main.bicep parameter '${name}' has no default and is not in main.parameters.json`);
  }
  return problems;
}

/** Each module call passes exactly the parameters its module declares, and all required ones. */
export function checkModuleCalls(infra: Infra): string[] {
  const problems: string[] = [];
  for (const instance of infra.modules.values()) {
    const given = new Set(objectEntries(propertyNode(instance.call.body, "params")!).map(([key]) => key));
    const where = `main.bicep:${instance.call.line} (module ${instance.call.name})`;
    if (!existsSync(instance.call.file)) problems.push(`${where}: ${instance.call.file} does not exist`);
    for (const name of given)
      if (!instance.model.params.has(name))
        problems.push(`${where}: passes '${name}', which ${path.basename(instance.call.file)} does not declare`);
    for (const [name, param] of instance.model.params)
      if (!param.defaultValue && !given.has(name)) problems.push(`${where}: does not pass required parameter '${name}'`);
  }
  return problems;
}

/** Outputs azd writes to its environment: UPPER_SNAKE, and the ones the README and tools rely on. */
export function checkOutputs(infra: Infra): string[] {
  const problems: string[] = [];
  const required = [
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_CHAT_DEPLOYMENT",
    "AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT",
    "AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_FUNCTION_APP_NAME",
    "AZURE_FUNCTION_APP_URL",
  ];
  for (const name of required) if (!infra.main.outputs.has(name)) problems.push(`main.bicep must output ${name}`);
  for (const name of infra.main.outputs.keys())
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) problems.push(`output ${name} must be UPPER_SNAKE so azd writes it to the environment`);
  // Locally AZURE_CLIENT_ID would send the app looking for a managed identity that does not exist.
  if (infra.main.outputs.has("AZURE_CLIENT_ID")) problems.push("do not output AZURE_CLIENT_ID: azd would put it in local environments");
  return problems;
}

/** azure.yaml deploys the `api` service to the function app tagged with that service name. */
export function checkAzdWiring(infra: Infra): string[] {
  const problems: string[] = [];
  const service = /^services:\s*\n\s+([A-Za-z0-9_-]+):/m.exec(infra.azureYaml)?.[1];
  if (!service) return ["azure.yaml must declare a service"];
  if (!/host:\s*function/.test(infra.azureYaml)) problems.push("azure.yaml's service must have host: function");
  // The uploaded package is the finished bundle; a remote build would run npm install on it.
  if (!/^\s+remoteBuild:\s*false\s*$/m.test(infra.azureYaml))
    problems.push("azure.yaml's service must say remoteBuild: false (the package is already built)");
  const app = singleInstance(infra, "app/function-app.bicep");
  const appTags = app.scope.params.appTags;
  if (!isPlainObject(appTags) || appTags["azd-service-name"] !== service)
    problems.push(`the function app must be tagged azd-service-name: ${service} (the service in azure.yaml)`);
  if (!isPlainObject(appTags) || !("azd-env-name" in appTags)) problems.push("the function app must carry the azd-env-name tag");
  const rg = resourcesOfType(infra.main, "Microsoft.Resources/resourceGroups")[0];
  const rgTags = rg ? valueAt(rg, "tags", infra.mainScope) : undefined;
  if (!isPlainObject(rgTags) || !("azd-env-name" in rgTags)) problems.push("the resource group must carry the azd-env-name tag");
  for (const hook of infra.azureYaml.matchAll(/run:\s*(\S+)/g)) {
    if (!existsSync(path.resolve(infra.dir, "..", hook[1]!))) problems.push(`azure.yaml runs ${hook[1]}, which does not exist`);
  }
  return problems;
}

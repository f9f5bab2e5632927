/**
 * infra/ as Azure would deploy it, checked against Azure's published facts instead of our memory.
 * The real Bicep CLI compiles main.bicep and its deployment engine evaluates it (`bicep snapshot`)
 * with and without vnetEnabled; the resources it predicts are checked against Microsoft's data in
 * test/infra/data/ (built-in roles, model availability, Flex Consumption regions). Planted defects
 * (a wrong role id, a misspelt SKU, a region lacking a default model) must fail. Skipped, with a
 * message, where no compiler is installed; mandatory in CI (BICEP_REQUIRED=1).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBicep, type PredictedResource, type Snapshot } from "./lib/bicep-cli.js";
import {
  assignedRoleNames,
  checkFlexRegions,
  checkModelAvailability,
  checkOptionalDeployments,
  checkRoleIds,
  FLEX_REGIONS,
  MODEL_AVAILABILITY,
  modelDeployments,
  regionsOfferingAll,
  type OptionalDeployment,
} from "./lib/azure-facts.js";
import { compileInfra, evaluateInfra, type ArmTemplate } from "./lib/compile-infra.js";
import { mutatedInfra, type Edit } from "./lib/mutated-copy.js";
import { expectedRoutingTable, routingTableProblems, type DeploymentEntry } from "./lib/routing-contract.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const dataDir = path.join(repoRoot, "test/infra/data");
const bicep = findBicep();

/** Off by default (main.bicep says why); each switch's description states where the model is offered. */
const OPTIONAL: OptionalDeployment[] = [
  { param: "speechDeploymentEnabled", model: "gpt-4o-mini-tts" },
  { param: "imagesDeploymentEnabled", model: "gpt-image-1" },
  { param: "completionsDeploymentEnabled", model: "gpt-35-turbo-instruct" },
];
const ALL_ON = Object.fromEntries(OPTIONAL.map((o) => [o.param, true]));

/** What azd passes on a first `azd up` (the user picked both regions when prompted). */
const FIRST_UP = {
  environmentName: "ci",
  location: "eastus2",
  openAiLocation: "swedencentral",
  principalId: "00000000-0000-4000-8000-00000000beef",
};

describe("Azure's facts as data", () => {
  for (const file of ["azure-built-in-roles.json", "azure-openai-model-availability.json", "flex-consumption-regions.json"]) {
    it(`${file} says where each fact comes from and when`, () => {
      const data = JSON.parse(readFileSync(path.join(dataDir, file), "utf8")) as {
        source: { path?: string; url?: string; documentDate?: string | null }[];
        retrieved: string;
      };
      expect(data.retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(data.source.length).toBeGreaterThan(0);
      for (const source of data.source) expect(source.path ?? source.url).toBeTruthy();
      expect(data.source.some((s) => /^\d{4}-\d{2}-\d{2}$/.test(s.documentDate ?? ""))).toBe(true);
    });
  }

  it("the regions that offer every default model are the ones infra/README.md names", () => {
    const defaults = [
      { deployment: "chat", model: "gpt-4o-mini", version: "2024-07-18", sku: "GlobalStandard" },
      { deployment: "embeddings", model: "text-embedding-3-small", version: "1", sku: "GlobalStandard" },
      { deployment: "transcription", model: "whisper", version: "001", sku: "Standard" },
    ];
    const regions = regionsOfferingAll(defaults);
    expect(regions.length).toBeGreaterThan(0);
    const readme = readFileSync(path.join(repoRoot, "infra/README.md"), "utf8");
    const line = /^Regions that offer every default model: (.*)$/m.exec(readme);
    expect(line, "infra/README.md needs a line 'Regions that offer every default model: `a`, `b`, ...'").not.toBeNull();
    expect([...line![1]!.matchAll(/`([a-z0-9]+)`/g)].map((m) => m[1]).sort()).toEqual(regions);
  });

  it("every region the model data names offers Flex Consumption or is a known Azure region", () => {
    // A typo in the data (a region name ARM does not know) would silently shrink the allowed lists.
    const modelRegions = new Set(
      Object.values(MODEL_AVAILABILITY).flatMap((versions) => Object.values(versions).flatMap((skus) => Object.values(skus).flat())),
    );
    const unknown = [...modelRegions].filter((r) => !/^[a-z]+[a-z0-9]*$/.test(r));
    expect(unknown).toEqual([]);
    expect(FLEX_REGIONS.length).toBeGreaterThan(30);
  });
});

describe.skipIf(!bicep.path)(
  bicep.path
    ? "infra/ evaluated by the Bicep deployment engine"
    : "infra/ evaluated: skipped, no Bicep CLI (az bicep install, or set BICEP_PATH)",
  () => {
    let copy: ReturnType<typeof mutatedInfra>;
    let template: ArmTemplate;
    let plain: Snapshot;
    let private_: Snapshot;
    let pipelineStage2: Snapshot;
    let allOn: Snapshot;
    beforeAll(async () => {
      copy = mutatedInfra([]);
      const compilation = await compileInfra(bicep.path!, copy.dir);
      if (!compilation.template) throw new Error(`main.bicep does not build:\n${compilation.diagnostics.map((d) => d.message).join("\n")}`);
      template = compilation.template;
      plain = await evaluateInfra(bicep.path!, copy.dir, FIRST_UP);
      private_ = await evaluateInfra(bicep.path!, copy.dir, { ...FIRST_UP, vnetEnabled: true, alwaysReadyInstances: 2 });
      // A CI pipeline's second provision (after the code is deployed), private, with no principalId given.
      const { principalId: _omitted, ...withoutPrincipal } = FIRST_UP;
      allOn = await evaluateInfra(bicep.path!, copy.dir, { ...FIRST_UP, openAiLocation: "eastus2", ...ALL_ON });
      pipelineStage2 = await evaluateInfra(bicep.path!, copy.dir, {
        ...withoutPrincipal,
        vnetEnabled: true,
        principalType: "ServicePrincipal",
        blobEventSubscriptionEnabled: true,
      });
    });
    afterAll(() => copy?.cleanup());

    const ofType = (snapshot: Snapshot, type: string): PredictedResource[] => snapshot.predictedResources.filter((r) => r.type === type);
    const one = (snapshot: Snapshot, type: string): PredictedResource => {
      const found = ofType(snapshot, type);
      expect(found, type).toHaveLength(1);
      return found[0]!;
    };

    it("offers every default deployment in every allowed openAiLocation, and allows every region that offers them all", () => {
      expect(checkModelAvailability(template, plain)).toEqual([]);
      expect(
        modelDeployments(plain)
          .map((d) => `${d.model} ${d.version} ${d.sku}`)
          .sort(),
      ).toEqual(["gpt-4o-mini 2024-07-18 GlobalStandard", "text-embedding-3-small 1 GlobalStandard", "whisper 001 Standard"]);
    });

    it("deploys speech, images and completions only when switched on, each offered where its switch says", () => {
      expect(
        modelDeployments(allOn)
          .map((d) => `${d.model} ${d.version} ${d.sku}`)
          .sort(),
      ).toEqual([
        "gpt-35-turbo-instruct 0914 Standard",
        "gpt-4o-mini 2024-07-18 GlobalStandard",
        "gpt-4o-mini-tts 2025-12-15 GlobalStandard",
        "gpt-image-1 2025-04-15 GlobalStandard",
        "text-embedding-3-small 1 GlobalStandard",
        "whisper 001 Standard",
      ]);
      expect(checkOptionalDeployments(template, allOn, OPTIONAL)).toEqual([]);
      // Switched on, the app is told their names; off (plain), it is told '' and they are not created.
      const settings = (s: Snapshot) => one(s, "Microsoft.Web/sites/config").properties as Record<string, string>;
      expect(settings(allOn)).toMatchObject({
        AZURE_OPENAI_SPEECH_DEPLOYMENT: "gpt-4o-mini-tts",
        AZURE_OPENAI_IMAGES_DEPLOYMENT: "gpt-image-1",
        AZURE_OPENAI_COMPLETIONS_DEPLOYMENT: "gpt-35-turbo-instruct",
      });
      expect(settings(plain)).toMatchObject({
        AZURE_OPENAI_SPEECH_DEPLOYMENT: "",
        AZURE_OPENAI_IMAGES_DEPLOYMENT: "",
        AZURE_OPENAI_COMPLETIONS_DEPLOYMENT: "",
      });
    });

    it("keeps off by default every model that not every allowed openAiLocation offers", () => {
      // A default deployment must be offered in every allowed region (checkModelAvailability);
      // these are not, which is why they are switches.
      const allowed = template.parameters.openAiLocation!.allowedValues!.map(String);
      for (const { param, model } of OPTIONAL) {
        expect(template.parameters[param]!.defaultValue, param).toBe(false);
        const d = modelDeployments(allOn).find((x) => x.model === model)!;
        const offered = MODEL_AVAILABILITY[d.model]![d.version]![d.sku]!;
        expect(
          allowed.every((r) => offered.includes(r)),
          `${model} is offered in every allowed region: it could be on by default`,
        ).toBe(false);
      }
    });

    it("allows for a second Azure OpenAI account exactly openAiLocation's regions, or none", () => {
      const first = template.parameters.openAiLocation!.allowedValues!.map(String).sort();
      expect(template.parameters.secondaryOpenAiLocation!.allowedValues!.map(String).sort()).toEqual(["", ...first]);
      expect(template.parameters.secondaryOpenAiLocation!.defaultValue).toBe("");
    });

    it("allows exactly the Flex Consumption regions for location", () => {
      expect(checkFlexRegions(template)).toEqual([]);
    });

    it("assigns only built-in roles the templates may use, in both network settings", () => {
      expect(checkRoleIds(plain)).toEqual([]);
      expect(checkRoleIds(private_)).toEqual([]);
      expect(assignedRoleNames(plain)).toEqual([
        "Cognitive Services OpenAI User",
        "Cognitive Services OpenAI User",
        "Monitoring Metrics Publisher",
        "Storage Blob Data Contributor",
        "Storage Blob Data Owner",
        "Storage Blob Data Owner",
        "Storage Queue Data Contributor",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
        "Storage Table Data Contributor",
      ]);
    });

    it("without vnetEnabled: no network, public endpoints, no always-ready instances", () => {
      for (const type of ["Microsoft.Network/virtualNetworks", "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateDnsZones"])
        expect(ofType(plain, type)).toEqual([]);
      expect(one(plain, "Microsoft.Storage/storageAccounts").properties?.networkAcls).toEqual({
        defaultAction: "Allow",
        bypass: "AzureServices",
      });
      expect(one(plain, "Microsoft.CognitiveServices/accounts").properties).toMatchObject({
        publicNetworkAccess: "Enabled",
        networkAcls: { defaultAction: "Allow" },
      });
      const app = one(plain, "Microsoft.Web/sites").properties!;
      expect(app.virtualNetworkSubnetId).toBeNull();
      expect((app.functionAppConfig as { scaleAndConcurrency: unknown }).scaleAndConcurrency).toMatchObject({
        maximumInstanceCount: 40,
        instanceMemoryMB: 2048,
        alwaysReady: [],
      });
      expect(one(plain, "Microsoft.CognitiveServices/accounts").location).toBe("swedencentral");
    });

    it("with vnetEnabled: the app's outbound traffic in a delegated subnet, private endpoints for blob, queue, table and Azure OpenAI, both closed to public callers", () => {
      const vnet = one(private_, "Microsoft.Network/virtualNetworks");
      const subnets = (vnet.properties?.subnets ?? []) as {
        name: string;
        properties: { delegations?: { properties: { serviceName: string } }[] };
      }[];
      const appSubnet = subnets.find((s) =>
        s.properties.delegations?.some((d) => d.properties.serviceName === "Microsoft.App/environments"),
      );
      expect(appSubnet, "a subnet delegated to Microsoft.App/environments (Flex Consumption)").toBeDefined();
      const app = one(private_, "Microsoft.Web/sites").properties!;
      expect(String(app.virtualNetworkSubnetId)).toMatch(new RegExp(`/virtualNetworks/${vnet.name}/subnets/${appSubnet!.name}$`));

      const endpoints = ofType(private_, "Microsoft.Network/privateEndpoints").map((pe) => {
        const connection = (
          pe.properties?.privateLinkServiceConnections as { properties: { privateLinkServiceId: string; groupIds: string[] } }[]
        )[0]!;
        return `${connection.properties.privateLinkServiceId.split("/providers/")[1]!.split("/")[0]} ${connection.properties.groupIds.join()}`;
      });
      expect(endpoints.sort()).toEqual([
        "Microsoft.CognitiveServices account",
        "Microsoft.Storage blob",
        "Microsoft.Storage queue",
        "Microsoft.Storage table",
      ]);
      // Each endpoint registers itself in a private DNS zone linked to the network.
      expect(ofType(private_, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups")).toHaveLength(4);
      expect(ofType(private_, "Microsoft.Network/privateDnsZones")).toHaveLength(4);
      expect(ofType(private_, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")).toHaveLength(4);

      // Storage: no public caller, but trusted services (Event Grid's dead-lettering) still get in.
      expect(one(private_, "Microsoft.Storage/storageAccounts").properties?.networkAcls).toEqual({
        defaultAction: "Deny",
        bypass: "AzureServices",
      });
      expect(one(private_, "Microsoft.CognitiveServices/accounts").properties).toMatchObject({
        publicNetworkAccess: "Disabled",
        networkAcls: { defaultAction: "Deny" },
      });
      // The Event Grid topic and its dead-letter role are there in both settings.
      expect(ofType(private_, "Microsoft.EventGrid/systemTopics")).toHaveLength(1);
      expect((app.functionAppConfig as { scaleAndConcurrency: unknown }).scaleAndConcurrency).toMatchObject({
        alwaysReady: [{ name: "http", instanceCount: 2 }],
      });
    });

    it("grants the deploying identity the data roles when no principalId is given, as the principalType it names", () => {
      const forDeployer = ofType(pipelineStage2, "Microsoft.Authorization/roleAssignments").filter(
        (r) => r.properties?.principalId === "[deployer().objectId]",
      );
      expect(forDeployer.map((r) => r.properties?.principalType)).toEqual([
        "ServicePrincipal",
        "ServicePrincipal",
        "ServicePrincipal",
        "ServicePrincipal",
      ]);
      expect(
        ofType(plain, "Microsoft.Authorization/roleAssignments").filter((r) => r.properties?.principalId === FIRST_UP.principalId),
      ).toHaveLength(4);
    });

    it("in stage 2 with vnetEnabled, Event Grid still delivers BlobCreated in audio/ to transcribeAudio's public webhook and dead-letters with its own identity", () => {
      const subscription = one(pipelineStage2, "Microsoft.EventGrid/systemTopics/eventSubscriptions").properties as {
        destination: { endpointType: string; properties: { endpointUrl: string } };
        filter: { includedEventTypes: string[]; subjectBeginsWith: string };
        deadLetterWithResourceIdentity: {
          identity: { type: string };
          deadLetterDestination: { properties: { blobContainerName: string } };
        };
      };
      expect(subscription.destination.endpointType).toBe("WebHook");
      expect(subscription.destination.properties.endpointUrl).toContain("/runtime/webhooks/blobs?functionName=Host.Functions.{1}");
      expect(subscription.destination.properties.endpointUrl).toContain("'transcribeAudio'");
      expect(subscription.filter).toEqual({
        includedEventTypes: ["Microsoft.Storage.BlobCreated"],
        subjectBeginsWith: "/blobServices/default/containers/audio/",
      });
      expect(subscription.deadLetterWithResourceIdentity.identity.type).toBe("SystemAssigned");
      expect(subscription.deadLetterWithResourceIdentity.deadLetterDestination.properties.blobContainerName).toBe("eventgrid-deadletter");
      // The storage firewall lets the topic's identity in as a trusted service.
      expect(one(pipelineStage2, "Microsoft.Storage/storageAccounts").properties?.networkAcls).toEqual({
        defaultAction: "Deny",
        bypass: "AzureServices",
      });
      expect(checkRoleIds(pipelineStage2)).toEqual([]);
    });

    describe("a second Azure OpenAI account", () => {
      let two: Snapshot;
      beforeAll(async () => {
        two = await evaluateInfra(bicep.path!, copy.dir, {
          ...FIRST_UP,
          secondaryOpenAiLocation: "eastus2",
          secondaryOpenAiRole: "spillover",
          vnetEnabled: true,
        });
      });
      const accountId = (snapshot: Snapshot, location: string): string =>
        ofType(snapshot, "Microsoft.CognitiveServices/accounts").find((a) => a.location === location)!.id!;

      it("is created in its region with the same deployments (names included), keys off and closed like the first", () => {
        const accounts = ofType(two, "Microsoft.CognitiveServices/accounts");
        expect(accounts.map((a) => a.location).sort()).toEqual(["eastus2", "swedencentral"]);
        for (const account of accounts)
          expect(account.properties).toMatchObject({
            disableLocalAuth: true,
            publicNetworkAccess: "Disabled",
            networkAcls: { defaultAction: "Deny" },
          });
        const byAccount = (name: string) =>
          modelDeployments(two)
            .filter((d) => d.deployment.startsWith(`${name}/`))
            .map((d) => `${d.deployment.slice(name.length + 1)} ${d.model} ${d.version} ${d.sku}`)
            .sort();
        const [first, second] = accounts.map((a) => byAccount(a.name));
        expect(first).toHaveLength(3);
        expect(second).toEqual(first);
        expect(ofType(plain, "Microsoft.CognitiveServices/accounts")).toHaveLength(1);
      });

      it("gives the app's identity and the deploying user Cognitive Services OpenAI User on each account, scoped to it", () => {
        expect(checkRoleIds(two)).toEqual([]);
        const openAiUser = ofType(two, "Microsoft.Authorization/roleAssignments").filter((r) =>
          String(r.properties?.roleDefinitionId).endsWith("/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"),
        );
        expect(openAiUser).toHaveLength(4);
        for (const location of ["swedencentral", "eastus2"]) {
          const scoped = openAiUser.filter(
            (r) =>
              String(r.id).includes(`${accountId(two, location)}/providers/Microsoft.Authorization/`) ||
              String(r.id).includes(`'${accountId(two, location)}', 'Microsoft.Authorization/roleAssignments'`),
          );
          expect(scoped.map((r) => r.properties?.principalType).sort(), location).toEqual(["ServicePrincipal", "User"]);
          expect(scoped.find((r) => r.properties?.principalType === "User")!.properties?.principalId).toBe(FIRST_UP.principalId);
          expect(String(scoped.find((r) => r.properties?.principalType === "ServicePrincipal")!.properties?.principalId)).toMatch(
            /userAssignedIdentities\/id-[a-z0-9]+', '[0-9-]+'\)\.principalId/,
          );
        }
      });

      it("is reached through its own private endpoint in the app's network", () => {
        const targets = ofType(two, "Microsoft.Network/privateEndpoints").map(
          (pe) =>
            (pe.properties?.privateLinkServiceConnections as { properties: { privateLinkServiceId: string } }[])[0]!.properties
              .privateLinkServiceId,
        );
        for (const location of ["swedencentral", "eastus2"]) expect(targets).toContain(accountId(two, location));
        expect(targets).toHaveLength(5);
      });

      it("puts both accounts' endpoints in AZURE_OPENAI_DEPLOYMENTS (known only at deployment: the engine leaves them as expressions)", () => {
        const settings = one(two, "Microsoft.Web/sites/config").properties as Record<string, string>;
        for (const location of ["swedencentral", "eastus2"])
          expect(settings.AZURE_OPENAI_DEPLOYMENTS).toContain(`reference('${accountId(two, location)}', '2024-10-01').endpoint`);
        expect(settings).toMatchObject({
          AZURE_OPENAI_CHAT_DEPLOYMENT: "gpt-4o-mini",
          AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT: "text-embedding-3-small",
          AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT: "whisper",
          AZURE_OPENAI_SPEECH_DEPLOYMENT: "",
        });
      });
    });

    describe("AZURE_OPENAI_DEPLOYMENTS as the engine computes it, with sample endpoints in place of the accounts'", () => {
      // The endpoints are module outputs, known only at deployment; a copy takes sample ones
      // (with the trailing slash Azure reports) so the engine computes the whole table.
      const PRIMARY = "https://oai-primary.openai.azure.com/";
      const SECONDARY = "https://oai-secondary.openai.azure.com/";
      let sampled: ReturnType<typeof mutatedInfra>;
      beforeAll(() => {
        sampled = mutatedInfra([
          { file: "main.bicep", find: "      endpoint: openAiAccess.outputs.endpoint\n", replace: `      endpoint: '${PRIMARY}'\n` },
          {
            file: "main.bicep",
            find: "          endpoint: openAiSecondaryAccess!.outputs.endpoint\n",
            replace: `          endpoint: '${SECONDARY}'\n`,
          },
        ]);
      });
      afterAll(() => sampled?.cleanup());
      const table = async (params: Record<string, unknown>): Promise<{ json: string; settings: Record<string, string> }> => {
        const snapshot = await evaluateInfra(bicep.path!, sampled.dir, { ...FIRST_UP, ...params });
        const settings = one(snapshot, "Microsoft.Web/sites/config").properties as Record<string, string>;
        return { json: settings.AZURE_OPENAI_DEPLOYMENTS!, settings };
      };
      const defaults: DeploymentEntry[] = [
        { name: "gpt-4o-mini", capabilities: ["chat", "responses"] },
        { name: "text-embedding-3-small", capabilities: ["embeddings"] },
        { name: "whisper", capabilities: ["transcription"] },
      ];

      it("for the defaults: one backend per default deployment, on the one account", async () => {
        const { json } = await table({});
        expect(routingTableProblems(json)).toEqual([]);
        expect(JSON.parse(json)).toEqual(expectedRoutingTable([{ endpoint: PRIMARY, priorityOffset: 0, deployments: defaults }]));
      });

      for (const [role, offset] of [
        ["spread", 0],
        ["spillover", 1],
      ] as const) {
        it(`with a second account (${role}): its backends after the first's, at priority + ${offset}`, async () => {
          const { json } = await table({ secondaryOpenAiLocation: "eastus2", secondaryOpenAiRole: role });
          expect(routingTableProblems(json)).toEqual([]);
          expect(JSON.parse(json)).toEqual(
            expectedRoutingTable([
              { endpoint: PRIMARY, priorityOffset: 0, deployments: defaults },
              { endpoint: SECONDARY, priorityOffset: offset, deployments: defaults },
            ]),
          );
        });
      }

      it("with the optional models on, routes to them too and names them in their settings", async () => {
        const { json, settings } = await table({ openAiLocation: "eastus2", ...ALL_ON });
        expect(routingTableProblems(json)).toEqual([]);
        expect(JSON.parse(json)).toEqual(
          expectedRoutingTable([
            {
              endpoint: PRIMARY,
              priorityOffset: 0,
              deployments: [
                ...defaults,
                { name: "gpt-4o-mini-tts", capabilities: ["speech"] },
                { name: "gpt-image-1", capabilities: ["images"] },
                { name: "gpt-35-turbo-instruct", capabilities: ["completions"] },
              ],
            },
          ]),
        );
        expect(settings.AZURE_OPENAI_COMPLETIONS_DEPLOYMENT).toBe("gpt-35-turbo-instruct");
      });
    });

    it("keeps the model capacities and the app's concurrency in agreement", () => {
      const settings = one(plain, "Microsoft.Web/sites/config").properties as Record<string, string>;
      const capacity = (model: string): number =>
        plain.predictedResources.find(
          (r) => r.type === "Microsoft.CognitiveServices/accounts/deployments" && (r.properties?.model as { name: string }).name === model,
        )!.sku!.capacity!;
      expect(Number(settings.EMBEDDINGS_MAX_TOKENS_PER_REQUEST)).toBeLessThanOrEqual(capacity("text-embedding-3-small") * 1000);
      // Whisper's default quota is 3 requests per minute; one chunk of a file at a time.
      expect(capacity("whisper")).toBe(3);
      expect(settings.TRANSCRIPTION_MAX_CONCURRENCY).toBe("1");
      expect(settings.AzureWebJobsStorage__tableServiceUri).toBeDefined();
    });

    describe("planted defects", () => {
      const plants: {
        name: string;
        edits: Edit[];
        check: (template: ArmTemplate, snapshot: Snapshot, optionalOn: Snapshot) => string[];
        expected: RegExp;
      }[] = [
        {
          name: "a wrong role id (the one this template shipped with)",
          edits: [
            {
              file: "app/event-grid-topic.bicep",
              find: /ba92f5b4-2d11-453d-a403-e96b0029c9fe/g,
              replace: "ba92f7b4-2d11-453d-a403-e96b1029c69b",
            },
          ],
          check: (_, s) => checkRoleIds(s),
          expected: /ba92f7b4-2d11-453d-a403-e96b1029c69b is not an Azure built-in role/,
        },
        {
          name: "a broad role",
          edits: [
            {
              file: "app/monitoring-access.bicep",
              find: /3913510d-42f4-4e42-8a64-420c390055eb/g,
              replace: "b24988ac-6180-42a0-ab88-20f7382dd24c",
            },
          ],
          check: (_, s) => checkRoleIds(s),
          expected: /Contributor is not a role the templates may assign/,
        },
        {
          name: "a misspelt SKU",
          edits: [
            {
              file: "main.bicep",
              find: "param embeddingsDeploymentSku string = 'GlobalStandard'",
              replace: "param embeddingsDeploymentSku string = 'GlobalStandrd'",
            },
          ],
          check: (t, s) => checkModelAvailability(t, s),
          expected: /text-embedding-3-small 1 is not offered on SKU 'GlobalStandrd'/,
        },
        {
          name: "a model version that does not exist",
          edits: [
            {
              file: "main.bicep",
              find: "param chatModelVersion string = '2024-07-18'",
              replace: "param chatModelVersion string = '2024-07-81'",
            },
          ],
          check: (t, s) => checkModelAvailability(t, s),
          expected: /gpt-4o-mini version '2024-07-81' is not in the availability data/,
        },
        {
          name: "an allowed region that lacks a default model",
          edits: [
            {
              file: "main.bicep",
              find: "@allowed([\n  'eastus2'\n  'northcentralus'",
              replace: "@allowed([\n  'eastus'\n  'eastus2'\n  'northcentralus'",
            },
          ],
          check: (t, s) => checkModelAvailability(t, s),
          expected: /openAiLocation allows 'eastus', which does not offer whisper 001 Standard/,
        },
        {
          name: "a switch description claiming a region the data does not list",
          edits: [
            { file: "main.bicep", find: "only in: eastus2 (GlobalStandard)", replace: "only in: eastus2, westeurope (GlobalStandard)" },
          ],
          check: (t, _, on) => checkOptionalDeployments(t, on, OPTIONAL),
          expected: /speechDeploymentEnabled's description says gpt-4o-mini-tts is offered in eastus2, westeurope, the data says eastus2/,
        },
        {
          name: "an optional model version that does not exist",
          edits: [
            {
              file: "main.bicep",
              find: "param imagesModelVersion string = '2025-04-15'",
              replace: "param imagesModelVersion string = '2025-04-51'",
            },
          ],
          check: (t, _, on) => checkOptionalDeployments(t, on, OPTIONAL),
          expected: /gpt-image-1 2025-04-51 GlobalStandard is not in the availability data/,
        },
        {
          name: "a region without Flex Consumption allowed for the app",
          edits: [{ file: "main.bicep", find: "  'westus3'\n])", replace: "  'westus3'\n  'qatarcentral'\n])" }],
          check: (t) => checkFlexRegions(t),
          expected: /location allows 'qatarcentral', which does not offer Flex Consumption/,
        },
      ];

      // One copy carries every plant, in separate places, so the compiler runs once.
      let planted: { template: ArmTemplate; snapshot: Snapshot; optionalOn: Snapshot } | undefined;
      let mutant: ReturnType<typeof mutatedInfra> | undefined;
      beforeAll(async () => {
        mutant = mutatedInfra(plants.flatMap((p) => p.edits));
        const compilation = await compileInfra(bicep.path!, mutant.dir);
        planted = {
          template: compilation.template!,
          snapshot: await evaluateInfra(bicep.path!, mutant.dir, FIRST_UP),
          optionalOn: await evaluateInfra(bicep.path!, mutant.dir, { ...FIRST_UP, openAiLocation: "eastus2", ...ALL_ON }),
        };
      });
      afterAll(() => mutant?.cleanup());

      for (const { name, check, expected } of plants) {
        it(`fails on ${name}`, () => {
          expect(check(planted!.template, planted!.snapshot, planted!.optionalOn).join("\n")).toMatch(expected);
        });
      }
    });
  },
);

/**
 * Checks of the compiled and evaluated templates against Azure's published facts, which
 * test/infra/data/ holds with their source and date: built-in role ids, the regions and SKUs each
 * model version is offered in, and the regions that offer Flex Consumption. Each check returns
 * problems phrased so the message says what to fix (empty when the templates are right).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { PredictedResource, Snapshot } from "./bicep-cli.js";
import type { ArmTemplate } from "./compile-infra.js";
import { BUILT_IN_ROLES, ROLE_TABLE } from "./role-table.js";

const dataDir = path.resolve(import.meta.dirname, "../data");

function readData<T>(file: string): T {
  return JSON.parse(readFileSync(path.join(dataDir, file), "utf8")) as T;
}

/** model -> version -> SKU -> regions. */
export type ModelAvailability = Record<string, Record<string, Record<string, string[]>>>;

export const MODEL_AVAILABILITY: ModelAvailability = readData<{ models: ModelAvailability }>("azure-openai-model-availability.json").models;
export const FLEX_REGIONS: readonly string[] = readData<{ regions: string[] }>("flex-consumption-regions.json").regions;

export interface DeploymentFact {
  deployment: string;
  model: string;
  version: string;
  sku: string;
}

/** The model deployments a snapshot creates. */
export function modelDeployments(snapshot: Snapshot): DeploymentFact[] {
  return snapshot.predictedResources
    .filter((r) => r.type === "Microsoft.CognitiveServices/accounts/deployments")
    .map((r) => {
      const model = (r.properties?.model ?? {}) as { name?: string; version?: string };
      return { deployment: r.name, model: model.name ?? "?", version: model.version ?? "?", sku: r.sku?.name ?? "?" };
    });
}

/** Regions offering one model version on one SKU, or undefined when the data has no such row. */
export function regionsOffering(
  fact: Pick<DeploymentFact, "model" | "version" | "sku">,
  data: ModelAvailability = MODEL_AVAILABILITY,
): string[] | undefined {
  return data[fact.model]?.[fact.version]?.[fact.sku];
}

/** Regions offering every one of `deployments`. */
export function regionsOfferingAll(deployments: readonly DeploymentFact[], data: ModelAvailability = MODEL_AVAILABILITY): string[] {
  const lists = deployments.map((d) => regionsOffering(d, data) ?? []);
  return (lists[0] ?? []).filter((region) => lists.every((list) => list.includes(region))).sort();
}

function allowedValues(template: ArmTemplate, parameter: string): string[] | undefined {
  return template.parameters[parameter]?.allowedValues?.map(String);
}

/**
 * Every deployment's model, version and SKU is offered somewhere, and openAiLocation allows exactly
 * the regions that offer all of them.
 */
export function checkModelAvailability(template: ArmTemplate, snapshot: Snapshot, data: ModelAvailability = MODEL_AVAILABILITY): string[] {
  const problems: string[] = [];
  const deployments = modelDeployments(snapshot);
  if (deployments.length === 0) return ["the evaluated template creates no model deployment"];
  for (const d of deployments) {
    if (!data[d.model]) problems.push(`deployment ${d.deployment}: model '${d.model}' is not in the availability data`);
    else if (!data[d.model]![d.version])
      problems.push(
        `deployment ${d.deployment}: ${d.model} version '${d.version}' is not in the availability data (known: ${Object.keys(data[d.model]!).join(", ")})`,
      );
    else if (!regionsOffering(d, data))
      problems.push(
        `deployment ${d.deployment}: ${d.model} ${d.version} is not offered on SKU '${d.sku}' (offered on: ${Object.keys(data[d.model]![d.version]!).join(", ")})`,
      );
  }
  const allowed = allowedValues(template, "openAiLocation");
  if (!allowed) return [...problems, "openAiLocation has no @allowed list"];
  // Deployments missing from the data are reported above; the regions are judged on the others.
  const known = deployments.filter((d) => regionsOffering(d, data));
  for (const region of allowed) {
    const missing = known.filter((d) => !regionsOffering(d, data)!.includes(region));
    if (missing.length > 0)
      problems.push(
        `openAiLocation allows '${region}', which does not offer ${missing.map((d) => `${d.model} ${d.version} ${d.sku}`).join(", ")}`,
      );
  }
  const offeringAll = regionsOfferingAll(known, data);
  const notAllowed = offeringAll.filter((region) => !allowed.includes(region));
  if (notAllowed.length > 0) problems.push(`openAiLocation does not allow ${notAllowed.join(", ")}, which offer every default deployment`);
  return problems;
}

/** A model main.bicep can deploy but does not by default, with the bool parameter that switches it on. */
export interface OptionalDeployment {
  param: string;
  model: string;
}

/**
 * The optional deployments, switched on in `snapshot`: each model, version and SKU is in the data,
 * at least one region openAiLocation allows offers it (or it could never be deployed on a new
 * account), and the switch's description states where it is offered, in the form
 * "only in: a, b (SKU); of those, openAiLocation allows a.", equal to the data.
 */
export function checkOptionalDeployments(
  template: ArmTemplate,
  snapshot: Snapshot,
  optional: readonly OptionalDeployment[],
  data: ModelAvailability = MODEL_AVAILABILITY,
): string[] {
  const problems: string[] = [];
  const allowed = allowedValues(template, "openAiLocation") ?? [];
  const deployments = modelDeployments(snapshot);
  for (const { param, model } of optional) {
    const d = deployments.find((x) => x.model === model);
    if (!d) {
      problems.push(`${model}: no deployment is created with ${param} = true`);
      continue;
    }
    const regions = regionsOffering(d, data);
    if (!regions) {
      problems.push(`${model} ${d.version} ${d.sku} is not in the availability data (known: ${JSON.stringify(data[model] ?? {})})`);
      continue;
    }
    const usable = regions.filter((r) => allowed.includes(r)).sort();
    if (usable.length === 0) problems.push(`${model} ${d.version} ${d.sku} is offered in no region openAiLocation allows`);
    const description = String(
      (template.parameters[param] as { metadata?: { description?: string } } | undefined)?.metadata?.description ?? "",
    );
    const stated = /only in: ([a-z0-9, ]+) \(([A-Za-z]+)\); of those, openAiLocation allows ([a-z0-9, ]+)\./.exec(description);
    const list = (text: string): string[] =>
      text
        .split(",")
        .map((r) => r.trim())
        .filter(Boolean)
        .sort();
    if (!stated) {
      problems.push(`${param}'s description must say "only in: <regions> (<SKU>); of those, openAiLocation allows <regions>."`);
      continue;
    }
    if (JSON.stringify(list(stated[1]!)) !== JSON.stringify([...regions].sort()))
      problems.push(`${param}'s description says ${model} is offered in ${stated[1]}, the data says ${[...regions].sort().join(", ")}`);
    if (stated[2] !== d.sku) problems.push(`${param}'s description names SKU ${stated[2]}, the deployment uses ${d.sku}`);
    if (JSON.stringify(list(stated[3]!)) !== JSON.stringify(usable))
      problems.push(
        `${param}'s description says openAiLocation allows ${stated[3]} for ${model}, the data says ${usable.join(", ") || "none"}`,
      );
  }
  return problems;
}

/** `location` allows exactly the regions that offer Flex Consumption. */
export function checkFlexRegions(template: ArmTemplate, regions: readonly string[] = FLEX_REGIONS): string[] {
  const allowed = allowedValues(template, "location");
  if (!allowed) return ["location has no @allowed list of the Flex Consumption regions"];
  const problems = allowed.filter((r) => !regions.includes(r)).map((r) => `location allows '${r}', which does not offer Flex Consumption`);
  const missing = regions.filter((r) => !allowed.includes(r));
  if (missing.length > 0) problems.push(`location does not allow ${missing.join(", ")}, which offer Flex Consumption`);
  return problems;
}

function roleGuid(resource: PredictedResource): string {
  const id = String(resource.properties?.roleDefinitionId ?? "");
  return id.slice(id.lastIndexOf("/") + 1);
}

/** Every evaluated role assignment names a built-in role, and one the templates may assign. */
export function checkRoleIds(snapshot: Snapshot): string[] {
  const problems: string[] = [];
  for (const resource of snapshot.predictedResources.filter((r) => r.type === "Microsoft.Authorization/roleAssignments")) {
    const guid = roleGuid(resource);
    if (!BUILT_IN_ROLES[guid])
      problems.push(
        `role assignment ${resource.name}: ${guid} is not an Azure built-in role (ARM would answer RoleDefinitionDoesNotExist)`,
      );
    else if (!ROLE_TABLE[guid])
      problems.push(`role assignment ${resource.name}: ${BUILT_IN_ROLES[guid]} is not a role the templates may assign`);
  }
  return problems;
}

/** The role names an evaluated template assigns, one per assignment, sorted. */
export function assignedRoleNames(snapshot: Snapshot): string[] {
  return snapshot.predictedResources
    .filter((r) => r.type === "Microsoft.Authorization/roleAssignments")
    .map((r) => BUILT_IN_ROLES[roleGuid(r)] ?? roleGuid(r))
    .sort();
}

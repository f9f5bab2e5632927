/**
 * The whole infra/ folder as the tests see it: main.bicep, every module it calls (with the
 * parameter values main passes, as azd would deploy them by default), main.parameters.json and
 * azure.yaml. Loading from a directory lets tests check a mutated copy the same way.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  evaluate,
  fileScope,
  loadBicepFile,
  moduleArguments,
  Unknown,
  type BicepFile,
  type ModuleDeclaration,
  type ResourceDeclaration,
  type Scope,
  type Value,
} from "./bicep-model.js";

export interface ModuleInstance {
  call: ModuleDeclaration;
  model: BicepFile;
  scope: Scope;
  /** Whether the call is deployed with these parameter values (its `if` condition). */
  deployed: boolean | Unknown;
}

export interface Infra {
  dir: string;
  main: BicepFile;
  mainScope: Scope;
  /** Module calls in main.bicep, by symbol name. */
  modules: Map<string, ModuleInstance>;
  parametersJson: { parameters: Record<string, { value: unknown }> };
  azureYaml: string;
}

/**
 * Loads infra/ (and ../azure.yaml) from `dir`, evaluating main.bicep with azd's defaults from
 * main.parameters.json, overridden by `overrides` (e.g. the stage-2 flag).
 * @throws Error when a file is missing or has a syntax error.
 */
export async function loadInfra(dir: string, overrides: Record<string, Value> = {}): Promise<Infra> {
  const main = await loadBicepFile(path.join(dir, "main.bicep"));
  const parametersJson = JSON.parse(readFileSync(path.join(dir, "main.parameters.json"), "utf8")) as Infra["parametersJson"];
  const azureYamlPath = path.join(dir, "..", "azure.yaml");
  const azureYaml = existsSync(azureYamlPath) ? readFileSync(azureYamlPath, "utf8") : "";
  const mainScope = fileScope(main, { ...azdParameterValues(main, parametersJson), ...overrides });
  const modules = new Map<string, ModuleInstance>();
  for (const call of main.modules) {
    const model = await loadBicepFile(call.file);
    const args = moduleArguments(call, mainScope);
    const deployedValue = call.condition ? evaluate(call.condition, mainScope) : true;
    const deployed = typeof deployedValue === "boolean" ? deployedValue : new Unknown(call.condition?.text ?? "");
    modules.set(call.name, { call, model, scope: fileScope(model, args), deployed });
  }
  return { dir, main, mainScope, modules, parametersJson, azureYaml };
}

const AZD_REFERENCE = /^\$\{([A-Z0-9_]+)(?:=([^}]*))?\}$/;

/**
 * The values azd passes for main.bicep's parameters when no environment variable is set:
 * `${VAR=default}` gives the default (converted to the parameter's type, as azd does), `${VAR}`
 * gives an empty string, or an Unknown when the parameter has no default (azd then prompts).
 */
export function azdParameterValues(main: BicepFile, parametersJson: Infra["parametersJson"]): Record<string, Value> {
  const values: Record<string, Value> = {};
  for (const [name, entry] of Object.entries(parametersJson.parameters)) {
    const raw = entry.value;
    const param = main.params.get(name);
    if (typeof raw !== "string") {
      values[name] = raw as Value;
      continue;
    }
    const match = AZD_REFERENCE.exec(raw);
    if (!match) {
      values[name] = raw;
      continue;
    }
    const [, variable, fallback] = match;
    if (fallback === undefined) {
      values[name] = param?.defaultValue ? "" : new Unknown(`$${variable}`);
      continue;
    }
    values[name] = convertToParamType(fallback, param?.typeText ?? "string");
  }
  return values;
}

function convertToParamType(raw: string, typeText: string): Value {
  if (typeText === "bool") return raw === "true" ? true : raw === "false" ? false : raw;
  if (typeText === "int") return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  return raw;
}

/** The module instance for a symbol. @throws Error naming the missing module call. */
export function moduleInstance(infra: Infra, symbol: string): ModuleInstance {
  const instance = infra.modules.get(symbol);
  if (!instance) throw new Error(`main.bicep has no module call named '${symbol}'`);
  return instance;
}

/** Module instances whose file is `relativePath` (relative to infra/). */
export function instancesOf(infra: Infra, relativePath: string): ModuleInstance[] {
  const wanted = path.resolve(infra.dir, relativePath);
  return [...infra.modules.values()].filter((instance) => instance.call.file === wanted);
}

/** Resources of a given type in a model. */
export function resourcesOfType(model: BicepFile, type: string): ResourceDeclaration[] {
  return model.resources.filter((resource) => resource.type.toLowerCase() === type.toLowerCase());
}

/** Every Bicep file the infra uses: main.bicep and each distinct module file. */
export function allFiles(infra: Infra): BicepFile[] {
  const byPath = new Map<string, BicepFile>([[infra.main.file, infra.main]]);
  for (const instance of infra.modules.values()) byPath.set(instance.model.file, instance.model);
  return [...byPath.values()];
}

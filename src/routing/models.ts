/**
 * Which models a request for a capability may name, and which it gets when it names none: read
 * from the settings alone, so the function modules can check a request's model without loading
 * the router (which waits for the first call, off the cold start).
 */
import type { OpenAIConfig } from "../config.js";
import type { Capability } from "./table.js";

/** The models a request for `capability` may name, the default first (the one used when it names none). */
export function modelsFor(config: OpenAIConfig, capability: Capability): string[] {
  const fallback = defaultModel(config, capability);
  const serving = [...config.routing.table.models]
    .filter(([, backends]) => backends.some((backend) => backend.capabilities.includes(capability)))
    .map(([model]) => model);
  return fallback === undefined ? serving : [fallback, ...serving.filter((model) => model !== fallback)];
}

/** The model `capability` uses when a request, message or blob names none; undefined when the capability is off. */
export function defaultModel(config: OpenAIConfig, capability: Capability): string | undefined {
  if (capability !== "responses") return config.deployments[capability];
  // The chat default, when it serves Responses too (always so without a table); else the first model that does.
  const serves = (model: string) => config.routing.table.models.get(model)?.some((backend) => backend.capabilities.includes("responses"));
  if (serves(config.deployments.chat)) return config.deployments.chat;
  return [...config.routing.table.models.keys()].find(serves);
}

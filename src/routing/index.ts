/**
 * The process's router (src/routing/router.ts), built once from the settings: one client per
 * backend, all sharing one Entra ID token provider, and one health record per deployment, so
 * every function on the instance routes with what any of them has learned.
 */
import type { OpenAIConfig } from "../config.js";
import { createOpenAIClient, createTokenProvider } from "../openai/client.js";
import { Router } from "./router.js";
import type { Capability } from "./table.js";

export { Router, ALL_BACKENDS_UNAVAILABLE, type Route, type Routed, type Target, type RunOptions } from "./router.js";
export type { Backend, Capability } from "./table.js";

let shared: { config: OpenAIConfig; router: Router } | undefined;

/** The process-wide router for this configuration, created on first use. */
export function getRouter(config: OpenAIConfig): Router {
  if (shared?.config !== config) shared = { config, router: createRouter(config) };
  return shared.router;
}

/** A router of its own (tests, benchmarks); the app uses getRouter. */
export function createRouter(config: OpenAIConfig, options: { fetch?: typeof globalThis.fetch } = {}): Router {
  let tokenProvider: Promise<() => Promise<string>> | undefined;
  return new Router(config.routing.table, {
    circuitFailures: config.routing.circuitFailures,
    circuitBreakInMs: config.routing.circuitBreakInMs,
    connect: async (backend, observe) => {
      const keyless = backend.apiKey === undefined;
      if (keyless) tokenProvider ??= createTokenProvider(config);
      return createOpenAIClient(
        { ...config, endpoint: backend.endpoint, apiStyle: backend.apiStyle, apiVersion: backend.apiVersion, apiKey: backend.apiKey },
        { fetch: observe, ...(keyless ? { tokenProvider: await tokenProvider } : {}) },
      );
    },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

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
  return capability === "responses" ? config.deployments.chat : config.deployments[capability];
}

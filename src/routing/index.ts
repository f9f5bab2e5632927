/**
 * The process's router (src/routing/router.ts), built once from the settings: one client per
 * backend, all sharing one Entra ID token provider, and one health record per deployment, so
 * every function on the instance routes with what any of them has learned.
 */
import type { OpenAIConfig } from "../config.js";
import { createOpenAIClient, createTokenProvider } from "../openai/client.js";
import { Router } from "./router.js";

export { Router, ALL_BACKENDS_UNAVAILABLE, type Route, type Routed, type Target, type RunOptions } from "./router.js";
export type { Backend, Capability } from "./table.js";
export { modelsFor, defaultModel } from "./models.js";

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
        {
          wrapFetch: observe,
          ...(options.fetch ? { fetch: options.fetch } : {}),
          ...(keyless ? { tokenProvider: await tokenProvider } : {}),
        },
      );
    },
  });
}

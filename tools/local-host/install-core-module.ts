/**
 * Makes `require("@azure/functions-core")` return the local host's implementation (core-api.ts)
 * in this process, as the Node worker does by injecting the module: a CommonJS resolution hook
 * plus a cache entry. Without it `@azure/functions` cannot register anything outside the worker.
 */
import Module, { createRequire } from "node:module";

/** The name `@azure/functions` requires; the Node worker normally injects it. */
export const CORE_MODULE_NAME = "@azure/functions-core";
const SYNTHETIC_FILENAME = "/__local-host__/azure-functions-core.js";

interface ModuleInternals {
  _resolveFilename(request: string, parent: unknown, ...rest: unknown[]): string;
  _cache: Record<string, unknown>;
}

/**
 * Serves `coreApi` as `@azure/functions-core` to every CommonJS `require` in this process, which
 * is how `@azure/functions` (a CJS bundle, also when imported from ESM) reaches the worker.
 * Must run before the app (and so the library) is loaded.
 * @throws Error when the module system cannot be hooked (never expected on Node 20).
 */
export function installCoreModule(coreApi: Record<string, unknown>): void {
  const internals = Module as unknown as ModuleInternals;
  const original = internals._resolveFilename;
  internals._resolveFilename = function resolveWithCore(request: string, parent: unknown, ...rest: unknown[]) {
    if (request === CORE_MODULE_NAME) return SYNTHETIC_FILENAME;
    return original.call(this, request, parent, ...rest);
  };
  const served = new Module(SYNTHETIC_FILENAME);
  served.filename = SYNTHETIC_FILENAME;
  served.exports = coreApi;
  served.loaded = true;
  internals._cache[SYNTHETIC_FILENAME] = served;

  const probe = createRequire(import.meta.url)(CORE_MODULE_NAME) as unknown;
  if (probe !== coreApi) throw new Error("Could not serve @azure/functions-core: module resolution hook did not take.");
}

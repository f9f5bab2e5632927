/**
 * Loads a function app's entry file the way the Azure Functions Node worker does: an ES module
 * (`.mjs`, or any other file but `.cjs` when the app root's package.json says `"type": "module"`)
 * through `import()`, anything else through `require()`. The difference is not cosmetic: `require` of a CommonJS file skips
 * the ES module loader altogether, which is what makes the deployed CommonJS bundle start fast.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

export type AppModuleKind = "esm" | "commonjs";

/**
 * The module system the worker would load `entry` with. Like the worker, this reads the package.json
 * at the app's root (the folder with host.json), not the one nearest the entry: a nested
 * package.json can make Node load the file differently from how the worker asks for it.
 */
export function appModuleKind(entry: string, appRoot: string): AppModuleKind {
  if (entry.endsWith(".mjs")) return "esm";
  if (entry.endsWith(".cjs")) return "commonjs";
  const manifest = path.join(appRoot, "package.json");
  // The worker treats a missing package.json as `{}`.
  if (!existsSync(manifest)) return "commonjs";
  const { type } = JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown };
  return type === "module" ? "esm" : "commonjs";
}

/**
 * @throws whatever the app throws while loading (a missing setting, a syntax error), or Node's
 *   error when the worker's choice does not match the file (require of an ES module on Node 20).
 */
export async function loadApp(entry: string, appRoot: string): Promise<void> {
  const file = path.resolve(entry);
  if (appModuleKind(file, appRoot) === "esm") await import(pathToFileURL(file).href);
  else createRequire(file)(file);
}

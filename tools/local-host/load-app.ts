/**
 * Loads a function app's entry file the way the Azure Functions Node worker does: an ES module
 * (`.mjs`, or `.js` under a package.json with `"type": "module"`) through `import()`, anything
 * else through `require()`. The difference is not cosmetic: `require` of a CommonJS file skips
 * the ES module loader altogether, which is what makes the deployed CommonJS bundle start fast.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

export type AppModuleKind = "esm" | "commonjs";

/** The module system the worker would load `entry` with (nearest package.json decides for `.js`). */
export function appModuleKind(entry: string): AppModuleKind {
  if (entry.endsWith(".mjs")) return "esm";
  if (entry.endsWith(".cjs")) return "commonjs";
  for (let dir = path.dirname(path.resolve(entry)); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      const { type } = JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown };
      return type === "module" ? "esm" : "commonjs";
    }
    if (path.dirname(dir) === dir) return "commonjs";
  }
}

/**
 * @throws whatever the app throws while loading (a missing setting, a syntax error).
 */
export async function loadApp(entry: string): Promise<void> {
  const file = path.resolve(entry);
  if (appModuleKind(file) === "esm") await import(pathToFileURL(file).href);
  else createRequire(file)(file);
}

/**
 * The repository root for tools, tests and benchmarks that read project files (package.json,
 * host.json, local.settings.json, fixtures), found from this file rather than the working folder.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root, found by walking up from this file to the folder with package.json and
 * host.json: the same answer whether the code runs from source (tests) or from dist/ (npm scripts).
 */
export const REPO_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "host.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`No package.json with host.json above ${start}`);
  }
}

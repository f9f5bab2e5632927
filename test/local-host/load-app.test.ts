import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appModuleKind, loadApp } from "../../tools/local-host/load-app.js";

// The worker's rule for how an app's entry file is loaded, and that both kinds really load.
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "load-app-"));
  await mkdir(path.join(root, "esm/dist"), { recursive: true });
  await mkdir(path.join(root, "cjs/dist"), { recursive: true });
  await writeFile(path.join(root, "esm/package.json"), JSON.stringify({ type: "module" }));
  await writeFile(path.join(root, "cjs/package.json"), JSON.stringify({ type: "commonjs" }));
  await writeFile(path.join(root, "esm/dist/main.js"), "globalThis.loaded = 'esm'; export {};\n");
  await writeFile(path.join(root, "cjs/dist/main.js"), "globalThis.loaded = 'commonjs'; module.exports = {};\n");
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("loading the app's entry the way the Functions Node worker does", () => {
  it("decides by extension first, then by the type in the app root's package.json", () => {
    expect(appModuleKind(path.join(root, "cjs/dist/x.mjs"), path.join(root, "cjs"))).toBe("esm");
    expect(appModuleKind(path.join(root, "esm/dist/x.cjs"), path.join(root, "esm"))).toBe("commonjs");
    expect(appModuleKind(path.join(root, "esm/dist/main.js"), path.join(root, "esm"))).toBe("esm");
    expect(appModuleKind(path.join(root, "cjs/dist/main.js"), path.join(root, "cjs"))).toBe("commonjs");
    // No package.json at the root: the worker reads it as {} and requires the file.
    expect(appModuleKind(path.join(root, "esm/dist/main.js"), root)).toBe("commonjs");
  });

  it("follows the app root's package.json, not one nearer the entry, as the worker does", async () => {
    const app = path.join(root, "nested");
    await mkdir(path.join(app, "dist"), { recursive: true });
    await writeFile(path.join(app, "package.json"), JSON.stringify({ type: "module" }));
    await writeFile(path.join(app, "dist/package.json"), JSON.stringify({ type: "commonjs" }));
    expect(appModuleKind(path.join(app, "dist/main.js"), app)).toBe("esm");
  });

  it("requires a CommonJS entry (it runs at once, no module loader) and imports an ES module one", async () => {
    const scope = globalThis as { loaded?: string };
    // require runs the file inside the call; import() runs it later, from the module loader.
    const loadingCommonJs = loadApp(path.join(root, "cjs/dist/main.js"), path.join(root, "cjs"));
    expect(scope.loaded).toBe("commonjs");
    await loadingCommonJs;
    const loadingEsm = loadApp(path.join(root, "esm/dist/main.js"), path.join(root, "esm"));
    expect(scope.loaded).toBe("commonjs");
    await loadingEsm;
    expect(scope.loaded).toBe("esm");
  });
});

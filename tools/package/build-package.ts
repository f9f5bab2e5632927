/**
 * Builds the deployment package: one minified esbuild bundle of src/ plus host.json and a
 * package.json without dependencies. A single file loads much faster than hundreds of modules
 * from node_modules on a cold instance, and the zip stays small (fast deploys, fast cold starts).
 * Source maps are written next to the package, not into it.
 */
import { build } from "esbuild";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT as ROOT } from "../repo-root.js";
import yazl from "yazl";


export interface PackageResult {
  /** Folder holding exactly what is deployed (azure.yaml's `dist`). */
  packageDir: string;
  zipPath: string;
  zipBytes: number;
  bundlePath: string;
  bundleBytes: number;
}

/**
 * @throws Error when esbuild fails (a type-only import it cannot resolve, say) or files are missing.
 */
export async function buildPackage(root = ROOT): Promise<PackageResult> {
  const packageDir = path.join(root, "dist/package");
  const zipPath = path.join(root, "dist/package.zip");
  const bundlePath = path.join(packageDir, "dist/main.cjs");
  await rm(packageDir, { recursive: true, force: true });
  await mkdir(path.dirname(bundlePath), { recursive: true });

  await build({
    entryPoints: [path.join(root, "src/index.ts")],
    outfile: bundlePath,
    bundle: true,
    platform: "node",
    target: "node20",
    // CommonJS: the worker loads it with require(), and no ESM loader work happens at cold start.
    format: "cjs",
    minify: true,
    sourcemap: "external",
    legalComments: "linked",
    // Injected by the Functions Node worker at run time; never bundled.
    external: ["@azure/functions-core"],
    // Some dependencies' ESM builds call createRequire(import.meta.url), which is empty in CJS output.
    define: { "import.meta.url": "__bundleFileUrl" },
    banner: { js: 'var __bundleFileUrl = require("node:url").pathToFileURL(__filename).href;' },
    logLevel: "warning",
  });
  const maps = path.join(root, "dist/package-sourcemaps");
  await mkdir(maps, { recursive: true });
  await rename(`${bundlePath}.map`, path.join(maps, "main.cjs.map"));

  const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { name: string; version: string; engines?: unknown };
  await writeFile(
    path.join(packageDir, "package.json"),
    JSON.stringify({ name: pkg.name, version: pkg.version, main: "dist/main.cjs", engines: pkg.engines }, null, 2),
  );
  await copyFile(path.join(root, "host.json"), path.join(packageDir, "host.json"));

  const files = ["host.json", "package.json", "dist/main.cjs", "dist/main.cjs.LEGAL.txt"];
  await writeZip(packageDir, files, zipPath);
  return {
    packageDir,
    zipPath,
    zipBytes: (await stat(zipPath)).size,
    bundlePath,
    bundleBytes: (await stat(bundlePath)).size,
  };
}

async function writeZip(dir: string, files: string[], zipPath: string): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const file of files) {
    const full = path.join(dir, file);
    const exists = await stat(full).then(() => true, () => false);
    if (exists) zip.addFile(full, file, { compressionLevel: 9 });
  }
  zip.end();
  const tmp = `${zipPath}.tmp`;
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(createWriteStream(tmp)).on("close", resolve).on("error", reject);
  });
  await rename(tmp, zipPath);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const result = await buildPackage();
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  console.log(`Bundle ${path.relative(ROOT, result.bundlePath)}: ${kb(result.bundleBytes)}`);
  console.log(`Deployment zip ${path.relative(ROOT, result.zipPath)}: ${kb(result.zipBytes)} (folder ${path.relative(ROOT, result.packageDir)}/)`);
}

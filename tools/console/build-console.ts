/**
 * Builds the web console (console/) into dist/console/: one minified ES module bundle of the
 * preact app and one stylesheet, both named by a hash of their content (so the app may tell
 * browsers to keep them for a year), and the page that loads them. Run by `npm start`,
 * `npm run package` (which copies the result into the deployment package) and the tests that need it.
 * Bundled with rolldown, the bundler the deployment package uses already.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";
import { REPO_ROOT } from "../repo-root.js";

export interface ConsoleBuild {
  dir: string;
  /** Every file written, relative to `dir`, with its size. */
  files: { name: string; bytes: number }[];
}

/**
 * @throws Error when the bundler fails (a type-free syntax error, an import it cannot resolve).
 */
export async function buildConsole(root = REPO_ROOT): Promise<ConsoleBuild> {
  const dir = path.join(root, "dist/console");
  // Never emptied first: tests in parallel processes (and a running `npm start`) build and serve it
  // at once. Each file is replaced whole (written aside, then renamed), and the same sources give
  // the same names and bytes, so a reader never sees a missing or half-written file.
  await mkdir(path.join(dir, "assets"), { recursive: true });

  const bundle = await rolldown({
    input: path.join(root, "console/src/main.tsx"),
    cwd: root,
    platform: "browser",
    // JSX settings come from the front-end's own tsconfig (preact's automatic runtime), as for tsc.
    tsconfig: path.join(root, "console/tsconfig.json"),
    transform: { target: "es2022" },
    logLevel: "warn",
  });
  let code: string;
  try {
    const { output } = await bundle.generate({ format: "esm", minify: true, comments: { legal: true } });
    code = output[0].code;
  } finally {
    await bundle.close();
  }
  const css = await readFile(path.join(root, "console/src/styles.css"), "utf8");
  const script = `assets/app-${hash(code)}.js`;
  const styles = `assets/styles-${hash(css)}.css`;
  await writeWhole(path.join(dir, script), code);
  await writeWhole(path.join(dir, styles), css);
  // Absolute paths: the page is served both as /api/console and /api/console/, where relative ones would differ.
  const page = (await readFile(path.join(root, "console/index.html"), "utf8"))
    .replace("%SCRIPT%", `/api/console/${script}`)
    .replace("%STYLES%", `/api/console/${styles}`);
  await writeWhole(path.join(dir, "index.html"), page);
  // Assets of earlier builds (other hashes) go once the page no longer names them.
  for (const name of await readdir(path.join(dir, "assets"))) {
    if (![script, styles].includes(`assets/${name}`) && !name.includes(".tmp-")) await rm(path.join(dir, "assets", name), { force: true });
  }
  const files = await Promise.all(
    ["index.html", script, styles].map(async (name) => ({ name, bytes: (await stat(path.join(dir, name))).size })),
  );
  return { dir, files };
}

async function writeWhole(file: string, content: string): Promise<void> {
  const aside = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(aside, content);
  await rename(aside, file);
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 10);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const built = await buildConsole();
  for (const file of built.files) console.log(`dist/console/${file.name}: ${(file.bytes / 1024).toFixed(1)} KiB`);
}

/**
 * The web console's size as browsers load it (issue #26): the page, its script and its stylesheet
 * as `npm run package` ships them, raw and gzipped, against a budget. Side by side, the `openai`
 * npm client bundled the same way for the browser: what streaming through it instead of fetch and
 * eventsource-parser would have added on its own.
 */
import { gzipSync } from "node:zlib";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { rolldown } from "rolldown";
import { buildConsole } from "../tools/console/build-console.js";
import { REPO_ROOT } from "../tools/repo-root.js";
import { round, type Benchmark, type Figure } from "./harness.js";

/**
 * Budgets: 20 KiB gzipped for everything the page loads, about a tenth of a second on a 2 Mbit/s
 * link, which keeps the console usable from a phone or a slow VPN; 64 KiB raw, since the Functions
 * host sends the files uncompressed when the caller does not accept gzip (the app gzips otherwise).
 */
export const GZIP_BUDGET_KIB = 20;
export const RAW_BUDGET_KIB = 64;

export const consoleSize: Benchmark = {
  name: "console-size",
  description: "the web console's files (page, script, stylesheet), raw and gzipped, against a budget",
  async run({ log }) {
    const built = await buildConsole();
    const bytes = await Promise.all(built.files.map((file) => readFile(path.join(built.dir, file.name))));
    const raw = bytes.reduce((sum, b) => sum + b.byteLength, 0);
    const gzip = bytes.reduce((sum, b) => sum + gzipSync(b, { level: 9 }).byteLength, 0);
    const script = built.files.findIndex((file) => file.name.endsWith(".js"));
    const scriptGzip = gzipSync(bytes[script]!, { level: 9 }).byteLength;
    log(`console-size: ${built.files.map((f) => `${f.name} ${f.bytes} B`).join(", ")}`);
    const openai = await openaiClientGzip();
    const kib = (n: number) => round(n / 1024, 1);
    const figures: Figure[] = [
      {
        name: "console, everything the page loads, gzipped (level 9)",
        value: kib(gzip),
        unit: "KiB",
        target: `<= ${GZIP_BUDGET_KIB} KiB`,
        pass: gzip <= GZIP_BUDGET_KIB * 1024,
      },
      {
        name: "console, everything the page loads, raw",
        value: kib(raw),
        unit: "KiB",
        target: `<= ${RAW_BUDGET_KIB} KiB`,
        pass: raw <= RAW_BUDGET_KIB * 1024,
      },
      {
        name: "console script alone (preact, the panels, eventsource-parser), gzipped",
        value: kib(scriptGzip),
        unit: "KiB",
        baseline: { name: "the openai npm client alone, bundled for the browser, gzipped", value: kib(openai) },
        ratio: round(openai / scriptGzip, 2),
        ratioMeaning: "openai client alone / whole console script",
      },
    ];
    return figures;
  },
};

/** The `openai` package bundled and minified for the browser by the same bundler, gzipped. */
async function openaiClientGzip(): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "console-size-"));
  try {
    const entry = path.join(dir, "entry.js");
    await writeFile(entry, 'import OpenAI from "openai"; globalThis.OpenAI = OpenAI;\n');
    const bundle = await rolldown({
      input: entry,
      cwd: REPO_ROOT,
      platform: "browser",
      logLevel: "silent",
      resolve: { modules: [path.join(REPO_ROOT, "node_modules")] },
    });
    try {
      const { output } = await bundle.generate({ format: "esm", minify: true });
      return gzipSync(output[0].code, { level: 9 }).byteLength;
    } finally {
      await bundle.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

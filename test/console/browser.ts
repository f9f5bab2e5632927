/**
 * Debian's Chromium driven by playwright-core, for the console's end-to-end tests. Without the
 * browser the tests are skipped with the reason printed, unless CONSOLE_BROWSER_REQUIRED=1 (CI's
 * .ci/run, which installs it with apt-get) makes its absence a failure.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const BROWSER_REQUIRED = /^(1|true)$/i.test(process.env.CONSOLE_BROWSER_REQUIRED ?? "");

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  return `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
}

/**
 * Launches a headless Chromium with a fresh profile and nothing that calls out (this machine, like
 * CI, refuses outbound connections; without these flags Chromium keeps trying).
 */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  // A fresh profile per run (playwright passes it as --user-data-dir).
  const profile = mkdtempSync(path.join(os.tmpdir(), "console-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    viewport: { width: 1100, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

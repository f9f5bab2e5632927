import { mkdtempSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveSettings } from "../../tools/local-host/local-settings.js";
import { startStack, type Stack } from "../../tools/local-host/stack.js";

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, "../..");
const fakeFuncDir = path.join(here, "fixtures", "fake-func");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** With `func` on PATH, the stack hands the app to Core Tools instead of the local host. */
describe("npm start stack with func on PATH", () => {
  let stack: Stack;
  let port: number;
  const record = path.join(mkdtempSync(path.join(os.tmpdir(), "fake-func-")), "record.json");
  const originalPath = process.env.PATH;

  beforeAll(async () => {
    port = await freePort();
    process.env.PATH = `${fakeFuncDir}${path.delimiter}${originalPath ?? ""}`;
    const sample = JSON.parse(readFileSync(path.join(root, "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> };
    stack = await startStack({
      root,
      settings: { ...effectiveSettings(sample.Values, {}), FAKE_FUNC_RECORD: record },
      functionsPort: port,
      simulatorPort: 0,
      azurite: { blobPort: 0, queuePort: 0, tablePort: 0 },
      useFunc: "auto",
      healthTimeoutMs: 20_000,
    });
  });
  afterAll(async () => {
    process.env.PATH = originalPath;
    await stack?.stop();
  });

  it("starts func in the app root on FUNCTIONS_PORT with the same settings the local host would get", () => {
    expect(stack.runtime).toBe("func");
    expect(stack.functionsUrl).toBe(`http://127.0.0.1:${port}`);
    const launched = JSON.parse(readFileSync(record, "utf8")) as {
      args: string[];
      cwd: string;
      env: Record<string, string>;
      hasIdentityHeader: boolean;
    };
    expect(launched.args).toEqual(["start", "--port", String(port)]);
    expect(launched.cwd).toBe(root);
    expect(launched.env.AZURE_OPENAI_ENDPOINT).toBe(stack.simulatorUrl);
    expect(launched.env.IDENTITY_ENDPOINT).toBe(stack.settings.IDENTITY_ENDPOINT);
    expect(launched.hasIdentityHeader).toBe(true);
    expect(launched.env.AzureWebJobsStorage).toBe(stack.azurite?.connectionString);
    expect(launched.env.AUDIO_CONTAINER).toBe("audio");
  });

  it("reports func exiting early instead of waiting for health, and stops what it started", async () => {
    const sample = JSON.parse(readFileSync(path.join(root, "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> };
    const lines: string[] = [];
    const started = Date.now();
    await expect(
      startStack({
        root,
        settings: { ...effectiveSettings(sample.Values, {}), FAKE_FUNC_RECORD: record, FAKE_FUNC_FAIL: "1" },
        functionsPort: await freePort(),
        simulatorPort: 0,
        azurite: { blobPort: 0, queuePort: 0, tablePort: 0 },
        useFunc: "auto",
        healthTimeoutMs: 20_000,
        onLog: (_source, line) => lines.push(line),
      }),
    ).rejects.toThrow(/func \(.*\) exited with code 2 before \/api\/health answered/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(lines.join("\n")).toContain("Can't determine project language");
  });
});

/**
 * The azd hooks that run stage 2 of the Event Grid wiring, run for real with `sh`: the "function
 * app" is a local HTTP server and `azd` is a stand-in on PATH that records its arguments (the real
 * azd needs Azure). Delays are set to 0 through the hook's own variables.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const hooksDir = path.resolve(import.meta.dirname, "../../infra/hooks");

interface HookRun {
  code: number;
  stdout: string;
  stderr: string;
  azdCalls: string[];
}

let workDir: string;
let server: Server;
let appUrl: string;
/** Status codes the "function app" answers with, in order; the last one repeats. */
let statuses: number[] = [200];
let requests = 0;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), "azd-hooks-"));
  // The azd stand-in: records its arguments; `provision` exits with FAKE_AZD_PROVISION_EXIT.
  writeFileSync(
    path.join(workDir, "azd"),
    '#!/bin/sh\necho "$*" >> "$FAKE_AZD_LOG"\nif [ "$1" = "provision" ]; then exit "${FAKE_AZD_PROVISION_EXIT:-0}"; fi\nexit 0\n',
  );
  chmodSync(path.join(workDir, "azd"), 0o755);
  server = createServer((_request, response) => {
    const status = statuses[Math.min(requests, statuses.length - 1)]!;
    requests += 1;
    response.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  statuses = [200];
  requests = 0;
  writeFileSync(path.join(workDir, "azd.log"), "");
});

function runHook(script: string, env: Record<string, string>): Promise<HookRun> {
  return new Promise((resolve) => {
    execFile(
      "sh",
      [path.join(hooksDir, script)],
      {
        // A clean environment: no proxies, only what azd would pass plus the stand-in's knobs.
        env: {
          PATH: `${workDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
          HOME: workDir,
          FAKE_AZD_LOG: path.join(workDir, "azd.log"),
          POSTDEPLOY_WAKE_DELAY_SECONDS: "0",
          POSTDEPLOY_RETRY_DELAY_SECONDS: "0",
          ...env,
        },
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        const log = readFileSync(path.join(workDir, "azd.log"), "utf8");
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          azdCalls: log.split("\n").filter(Boolean),
        });
      },
    );
  });
}

describe("postdeploy hook", () => {
  it("wakes the app, turns stage 2 on and provisions again", async () => {
    const run = await runHook("postdeploy.sh", { AZURE_FUNCTION_APP_URL: appUrl });
    expect(run.code, run.stderr).toBe(0);
    expect(requests).toBe(1);
    expect(run.azdCalls).toEqual(["env set BLOB_EVENT_SUBSCRIPTION_ENABLED true", "provision --no-prompt"]);
  });

  it("keeps waking the host while it answers 503, then provisions", async () => {
    statuses = [503, 503, 200];
    const run = await runHook("postdeploy.sh", { AZURE_FUNCTION_APP_URL: appUrl });
    expect(run.code, run.stderr).toBe(0);
    expect(requests).toBe(3);
    expect(run.azdCalls.at(-1)).toBe("provision --no-prompt");
  });

  it("does nothing when stage 2 is already on", async () => {
    const run = await runHook("postdeploy.sh", { AZURE_FUNCTION_APP_URL: appUrl, BLOB_EVENT_SUBSCRIPTION_ENABLED: "true" });
    expect(run.code).toBe(0);
    expect(requests).toBe(0);
    expect(run.azdCalls).toEqual([]);
  });

  it("fails with a fix when the app URL is not in the environment", async () => {
    const run = await runHook("postdeploy.sh", {});
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("run 'azd provision' first");
    expect(run.azdCalls).toEqual([]);
  });

  it("retries provisioning three times, then turns stage 2 back off and says how to retry", async () => {
    const run = await runHook("postdeploy.sh", { AZURE_FUNCTION_APP_URL: appUrl, FAKE_AZD_PROVISION_EXIT: "1" });
    expect(run.code).toBe(1);
    expect(run.azdCalls).toEqual([
      "env set BLOB_EVENT_SUBSCRIPTION_ENABLED true",
      "provision --no-prompt",
      "provision --no-prompt",
      "provision --no-prompt",
      "env set BLOB_EVENT_SUBSCRIPTION_ENABLED false",
    ]);
    expect(run.stderr).toContain("azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED true && azd provision");
  });
});

describe("postdown hook", () => {
  it("turns stage 2 off so the next azd up starts from stage 1", async () => {
    const run = await runHook("postdown.sh", { BLOB_EVENT_SUBSCRIPTION_ENABLED: "true" });
    expect(run.code).toBe(0);
    expect(run.azdCalls).toEqual(["env set BLOB_EVENT_SUBSCRIPTION_ENABLED false"]);
  });
});

import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { effectiveSettings, loadLocalSettings } from "../../tools/local-host/local-settings.js";
import { assertPortFree } from "../../tools/local-host/ports.js";
import { loadHostConfig, parseTimeSpan } from "../../tools/local-host/host-config.js";
import { matchBlobPath, parseBlobPath } from "../../tools/local-host/blob-path.js";
import { compileRoute, matchRoute } from "../../tools/local-host/http-routes.js";

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

describe("local.settings.json", () => {
  it("is created from the sample when missing, and Values become settings with the shell winning", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "settings-"));
    writeFileSync(
      path.join(dir, "local.settings.sample.json"),
      JSON.stringify({ IsEncrypted: false, Values: { A: "from-file", B: "", C: 3 }, Host: { LocalHttpPort: 7099 } }),
    );
    const loaded = loadLocalSettings(dir);
    expect(loaded.created).toBe(true);
    expect(readFileSync(path.join(dir, "local.settings.json"), "utf8")).toContain("from-file");
    expect(loaded.localHttpPort).toBe(7099);
    expect(effectiveSettings(loaded.values, { A: "from-shell" })).toEqual({ A: "from-shell", C: "3" });
    // Known settings missing from the file still come from the shell; unknown shell variables do not.
    expect(effectiveSettings(loaded.values, { FUNCTIONS_PORT: "8080", OTHER: "x" }, ["FUNCTIONS_PORT"])).toEqual({
      A: "from-file",
      C: "3",
      FUNCTIONS_PORT: "8080",
    });
    expect(loadLocalSettings(dir).created).toBe(false);
  });

  it("rejects invalid JSON with the file name and how to fix it", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "settings-"));
    writeFileSync(path.join(dir, "local.settings.json"), "{ nope");
    expect(() => loadLocalSettings(dir)).toThrow(/local\.settings\.json is not valid JSON.*delete it to recreate/);
  });

  it("the shipped sample lists every app setting with local defaults", async () => {
    const sample = JSON.parse(readFileSync(path.join(repoRoot, "local.settings.sample.json"), "utf8")) as {
      Values: Record<string, string>;
    };
    const { SETTINGS } = await import("../../src/config.js");
    for (const setting of SETTINGS) {
      expect(sample.Values, setting.name).toHaveProperty(setting.name);
      if (setting.defaultValue !== undefined) expect(sample.Values[setting.name], setting.name).toBe(setting.defaultValue);
    }
    expect(sample.Values.AzureWebJobsStorage).toBe("UseDevelopmentStorage=true");
    expect(sample.Values.AZURE_OPENAI_ENDPOINT).toBe("");
  });
});

describe("ports", () => {
  it("names the port and the setting to change when a port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await expect(assertPortFree(port, "Functions host", "FUNCTIONS_PORT")).rejects.toThrow(
        new RegExp(`Port ${port} \\(Functions host\\) is already in use.*FUNCTIONS_PORT`),
      );
    } finally {
      blocker.close();
    }
    await expect(assertPortFree(port, "Functions host", "FUNCTIONS_PORT")).resolves.toBeUndefined();
  });

  it("a port no setting moves (Azurite's) says what to do instead", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const failure = assertPortFree(port, "Azurite blob", "AzureWebJobsStorage", "point AzureWebJobsStorage at the storage to use");
      await expect(failure).rejects.toThrow(
        new RegExp(
          `^Port ${port} \\(Azurite blob\\) is already in use \\(is another "npm start" still running\\?\\)\\. Stop the process using it, or point AzureWebJobsStorage at the storage to use\\.$`,
        ),
      );
    } finally {
      blocker.close();
    }
  });

  it("npm start stops before starting anything when the Functions port is taken", async () => {
    const startJs = path.join(repoRoot, "dist", "tools", "local-host", "start.js");
    if (!existsSync(startJs)) throw new Error(`${startJs} is missing: run "npm run build" (npm test does) before this test.`);
    const dir = mkdtempSync(path.join(os.tmpdir(), "start-port-"));
    copyFileSync(path.join(repoRoot, "local.settings.sample.json"), path.join(dir, "local.settings.sample.json"));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const child = spawn(process.execPath, [startJs], { cwd: dir, env: { ...process.env, FUNCTIONS_PORT: String(port) } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect(code).toBe(1);
      expect(stderr).toMatch(
        new RegExp(`npm start failed: Port ${port} \\(Functions host\\) is already in use.*FUNCTIONS_PORT in local\\.settings\\.json`),
      );
      expect(stdout).not.toMatch(/Starting Azurite/);
    } finally {
      blocker.close();
    }
  });
});

describe("host.json, routes and blob paths", () => {
  it("applies the storage extension defaults and host.json overrides", () => {
    const defaults = loadHostConfig(undefined);
    expect(defaults.queues).toMatchObject({
      batchSize: 16,
      newBatchThreshold: 8,
      maxDequeueCount: 5,
      messageEncoding: "base64",
      visibilityTimeoutMs: 0,
    });
    expect(defaults.http.routePrefix).toBe("api");
    const project = loadHostConfig(path.join(repoRoot, "host.json"));
    expect(project.queues.visibilityTimeoutMs).toBe(parseTimeSpan("00:00:30"));
    expect(parseTimeSpan("1.00:00:01.5")).toBe(86_401_500);
  });

  it("matches greedy blob path parameters that span folders", () => {
    const pattern = parseBlobPath("audio/{name}");
    expect(pattern.container).toBe("audio");
    expect(matchBlobPath(pattern, "2024/talk.wav")).toEqual({ name: "2024/talk.wav" });
    const twoParts = parseBlobPath("in/{folder}/{file}.wav");
    expect(matchBlobPath(twoParts, "a/b/c.wav")).toEqual({ folder: "a/b", file: "c" });
    expect(matchBlobPath(twoParts, "a/c.mp3")).toBeUndefined();
  });

  it("matches optional parameters and defaults in routes", () => {
    const route = compileRoute("products/{category:alpha}/{id:int?}");
    expect(matchRoute(route, "/products/shoes")).toEqual({ category: "shoes" });
    expect(matchRoute(route, "/products/shoes/7")).toEqual({ category: "shoes", id: "7" });
    expect(matchRoute(route, "/products/shoes/x")).toBeUndefined();
    expect(matchRoute(compileRoute("v/{lang=en}"), "/v")).toEqual({ lang: "en" });
  });
});

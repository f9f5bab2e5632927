import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, "fixtures", "http-buffered-app");

/** Runs `script` (ESM) in a parent process, returns the first line it prints, then SIGKILLs it. */
async function killAfterFirstLine(script: string): Promise<{ line: string; parent: ReturnType<typeof spawn> }> {
  const parent = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    parent.stdout.once("data", (data: Buffer) => resolve(data.toString().trim()));
    parent.once("exit", (code) => reject(new Error(`the parent exited (${code}) before it was ready`)));
  });
  return { line, parent };
}

/** Whether nothing accepts connections on the port within timeoutMs (a bare connect: no request, no log line). */
async function portFreed(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const free = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(false)));
      socket.once("error", () => resolve(true));
    });
    if (free) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe("what npm start runs ends with it", () => {
  it("Azurite exits, freeing its ports, when the process that started it is killed", async () => {
    const module = path.resolve(here, "../../dist/tools/local-host/azurite.js");
    if (!existsSync(module)) throw new Error(`${module} is missing: run "npm run build" (npm test does) before this test.`);
    const { line, parent } = await killAfterFirstLine(`const { startAzurite } = await import(${JSON.stringify(pathToFileURL(module).href)});
      const azurite = await startAzurite();
      console.log(azurite.blobUrl);`);
    try {
      const port = Number(new URL(line).port);
      expect(await portFreed(port, 100)).toBe(false);
      parent.kill("SIGKILL");
      expect(await portFreed(port, 10_000)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("the local host exits, freeing its port, when the process that started it is killed (no orphan host)", async () => {
    const index = path.resolve(here, "../../dist/tools/local-host/index.js");
    if (!existsSync(index)) throw new Error(`${index} is missing: run "npm run build" (npm test does) before this test.`);
    const { line: url, parent } =
      await killAfterFirstLine(`const { startHost } = await import(${JSON.stringify(pathToFileURL(index).href)});
      const host = await startHost({ entry: "index.mjs", cwd: ${JSON.stringify(fixture)}, port: 0 });
      console.log(host.url);`);
    try {
      expect((await fetch(`${url}/nothing`)).status).toBe(204);
      parent.kill("SIGKILL");
      // A bare connect: a request would make the host log, and writing to the dead parent's pipe
      // could end it for another reason.
      expect(await portFreed(Number(new URL(url).port), 10_000)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});

import { readdir, readFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPackage, type PackageResult } from "../tools/package/build-package.js";
import { makeWav } from "./support/audio/wav.js";
import { startStack, type Stack } from "./support/stack.js";

// The deployment package is what runs in Azure: prove the bundle itself serves requests,
// not only the tsc build the other tests use.
let pkg: PackageResult;
let stack: Stack;

beforeAll(async () => {
  pkg = await buildPackage();
  stack = await startStack({ entry: pkg.bundlePath, env: { HTTP_AUTH_LEVEL: "anonymous" } });
}, 120_000);
afterAll(() => stack?.stop());

describe("deployment package (npm run package)", () => {
  it("holds host.json, a dependency-free package.json and the bundle, without source maps", async () => {
    const manifest = JSON.parse(await readFile(path.join(pkg.packageDir, "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ type: "commonjs", main: "dist/main.js" });
    expect(manifest.dependencies).toBeUndefined();
    const entries = await zipEntries(pkg.zipPath);
    expect(entries).toEqual(expect.arrayContaining(["host.json", "package.json", "dist/main.js"]));
    expect(entries.filter((e) => e.endsWith(".map"))).toEqual([]);
    expect(pkg.zipBytes).toBeLessThan(1.5 * 1000 * 1000);
  });

  it("ships the web console's built files and serves them from the package", async () => {
    const entries = await zipEntries(pkg.zipPath);
    const page = await fetch(`${stack.host.url}/api/console/`);
    expect(page.status).toBe(200);
    const script = /src="\/api\/console\/(assets\/app-[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(entries).toEqual(expect.arrayContaining(["dist/console/index.html", `dist/console/${script}`]));
    const asset = await fetch(`${stack.host.url}/api/console/${script}`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).toBe(await readFile(path.join(pkg.packageDir, "dist/console", script!), "utf8"));
  });

  it("the entry file requires only Node built-ins up front: a cold start reads one file, chunks load on first use", async () => {
    const entry = await readFile(pkg.bundlePath, "utf8");
    const required = [...entry.matchAll(/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => ({ specifier: m[1]!, at: m.index }));
    const chunks = required.filter((r) => r.specifier.startsWith("./chunks/"));
    const upFront = required.filter((r) => !r.specifier.startsWith("./chunks/"));
    // Built-ins, and the module the Functions worker injects; nothing from node_modules.
    const notBuiltIn = upFront.map((r) => r.specifier).filter((s) => !isBuiltin(s) && s !== "@azure/functions-core");
    expect(upFront.length).toBeGreaterThan(0);
    expect(notBuiltIn).toEqual([]);
    // Every chunk is required inside a callback (the bundler's form of a dynamic import), never at load.
    expect(chunks.length).toBeGreaterThan(0);
    const eager = chunks.filter((r) => !/=>\s*$/.test(entry.slice(Math.max(0, r.at - 40), r.at)));
    expect(eager.map((r) => r.specifier)).toEqual([]);
  });

  it('keeps the ES module sources in strict mode: every CommonJS file starts with "use strict"', async () => {
    const files = [
      pkg.bundlePath,
      ...(await readdir(path.join(path.dirname(pkg.bundlePath), "chunks"))).map((f) =>
        path.join(path.dirname(pkg.bundlePath), "chunks", f),
      ),
    ];
    const sloppy: string[] = [];
    for (const file of files) if (!/^\s*["']use strict["']/.test(await readFile(file, "utf8"))) sloppy.push(path.basename(file));
    expect(sloppy).toEqual([]);
  });

  it("the bundled app answers health and streams a chat through the local host", async () => {
    const health = await fetch(`${stack.host.url}/api/health`);
    expect(health.status).toBe(200);
    const client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused" });
    const stream = await client.chat.completions.create({
      messages: [{ role: "user", content: "Hello" }],
      model: "gpt-4o-mini",
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text.length).toBeGreaterThan(0);
    const embeddings = await client.embeddings.create({ model: "text-embedding-3-small", input: "bundled" });
    expect(embeddings.data[0]?.embedding).toHaveLength(1536);
  });
});

describe("deployment package: the triggers' lazily loaded code", () => {
  it("embeds a queued text and transcribes an uploaded WAV (the storage, tokenizer and audio chunks load)", async () => {
    const queue = stack.queueService.getQueueClient("embeddings");
    await queue.sendMessage(Buffer.from(JSON.stringify({ id: "bundled-1", input: "embedded by the bundle" })).toString("base64"));
    await stack.blobService
      .getContainerClient("audio")
      .getBlockBlobClient("bundled.wav")
      .uploadData(makeWav([{ tone: 440, seconds: 3 }]));

    const embeddings = stack.blobService.getContainerClient("embeddings").getBlobClient("bundled-1.json");
    const transcript = stack.blobService.getContainerClient("transcripts").getBlobClient("bundled.wav.json");
    const deadline = Date.now() + 30_000;
    while (!((await embeddings.exists()) && (await transcript.exists()))) {
      if (Date.now() > deadline) throw new Error("the bundled app wrote no embeddings or transcript within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const embedded = JSON.parse((await embeddings.downloadToBuffer()).toString("utf8")) as { items: Array<{ embedding: number[] }> };
    expect(embedded.items[0]?.embedding).toHaveLength(1536);
    const transcribed = JSON.parse((await transcript.downloadToBuffer()).toString("utf8")) as { duration: number; text: string };
    expect(transcribed.duration).toBe(3);
    expect(transcribed.text.length).toBeGreaterThan(0);
  }, 45_000);

  it("transcribes an upload to /api/v1/audio/transcriptions (the multipart parser is in the bundle)", async () => {
    const form = new FormData();
    form.append("file", new Blob([makeWav([{ tone: 440, seconds: 2 }])]), "upload.wav");
    form.append("response_format", "verbose_json");
    const response = await fetch(`${stack.host.url}/api/v1/audio/transcriptions`, { method: "POST", body: form });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ duration: 2, text: expect.any(String) });
  });
});

async function zipEntries(zipPath: string): Promise<string[]> {
  // Read the zip's central directory: each entry's name follows its 46-byte header.
  const data = await readFile(zipPath);
  const names: string[] = [];
  for (
    let i = data.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    i >= 0;
    i = data.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), i + 4)
  ) {
    const nameLength = data.readUInt16LE(i + 28);
    names.push(data.subarray(i + 46, i + 46 + nameLength).toString("utf8"));
  }
  return names;
}

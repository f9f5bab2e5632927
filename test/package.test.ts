import { readFile } from "node:fs/promises";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPackage, type PackageResult } from "../tools/package/build-package.js";
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
    expect(manifest).toMatchObject({ type: "module", main: "dist/main.js" });
    expect(manifest.dependencies).toBeUndefined();
    const entries = await zipEntries(pkg.zipPath);
    expect(entries).toEqual(expect.arrayContaining(["host.json", "package.json", "dist/main.js"]));
    expect(entries.filter((e) => e.endsWith(".map"))).toEqual([]);
    expect(pkg.zipBytes).toBeLessThan(1.5 * 1000 * 1000);
  });

  it("the entry file imports only Node built-ins up front: a cold start reads one file, chunks load on first use", async () => {
    const entry = await readFile(pkg.bundlePath, "utf8");
    // Import statements start the file or follow a `;` (minified); text inside strings does not match.
    const staticImports = [...entry.matchAll(/(?:^|[;\n])\s*import\s*(?:[\w*{}\s,$]+?from\s*)?["'`]([^"'`]+)["'`]/g)].map((m) => m[1]);
    expect(staticImports.length).toBeGreaterThan(0);
    expect(staticImports.filter((specifier) => !specifier!.startsWith("node:"))).toEqual([]);
    expect(entry).toMatch(/import\(\s*["'`]\.\/chunks\//);
  });

  it("the bundled app answers health and streams a chat through the local host", async () => {
    const health = await fetch(`${stack.host.url}/api/health`);
    expect(health.status).toBe(200);
    const client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused" });
    const stream = await client.chat.completions.create({ messages: [{ role: "user", content: "Hello" }], model: "gpt-4o-mini", stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text.length).toBeGreaterThan(0);
    const embeddings = await client.embeddings.create({ model: "text-embedding-3-small", input: "bundled" });
    expect(embeddings.data[0]?.embedding).toHaveLength(1536);
  });
});

async function zipEntries(zipPath: string): Promise<string[]> {
  // Read the zip's central directory: each entry's name follows its 46-byte header.
  const data = await readFile(zipPath);
  const names: string[] = [];
  for (let i = data.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); i >= 0; i = data.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), i + 4)) {
    const nameLength = data.readUInt16LE(i + 28);
    names.push(data.subarray(i + 46, i + 46 + nameLength).toString("utf8"));
  }
  return names;
}

import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import { promisify } from "node:util";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveSettings } from "../../tools/local-host/local-settings.js";
import { appEntry, startStack, type Stack } from "../../tools/local-host/stack.js";
import { readySummary } from "../../tools/local-host/ready-summary.js";
import { buildConsole } from "../../tools/console/build-console.js";
import { enqueue, postBlobCreated, upload } from "../../tools/send/commands.js";
import type { SendContext } from "../../tools/send/settings.js";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { eventually } from "./storage-helpers.js";

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/**
 * The whole stack as `npm start` runs it (sample settings, Azurite, simulator with its identity
 * endpoint, the built app on the local host), on free ports and in-memory storage.
 */
describe("npm start stack, end to end with the real app", () => {
  let stack: Stack;
  let send: SendContext;

  beforeAll(async () => {
    const entry = appEntry(root);
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build" (npm test does) before this test.`);
    ({ stack, send } = await startLikeNpmStart());
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("starts the simulator for an unset endpoint and hands the app its identity endpoint, not a key", () => {
    expect(stack.runtime).toBe("local-host");
    expect(stack.settings.AZURE_OPENAI_ENDPOINT).toBe(stack.simulatorUrl);
    expect(stack.settings.IDENTITY_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(stack.settings.AZURE_OPENAI_API_KEY).toBeUndefined();
    expect(stack.containers).toEqual(expect.arrayContaining(["audio", "transcripts", "embeddings"]));
    expect(stack.queues).toEqual(expect.arrayContaining(["embeddings", "embeddings-poison"]));
  });

  it("prints the console's URL first, and the console is there", async () => {
    await buildConsole(); // as npm start does before it starts the host
    const firstLine = readySummary(stack)
      .split("\n")
      .find((line) => line.trim() !== "");
    expect(firstLine).toMatch(/^Console: (\S+) {2}<- open this in a browser/);
    const url = /^Console: (\S+)/.exec(firstLine!)![1]!;
    expect(url).toBe(`${stack.functionsUrl}/api/console/`);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/<script type="module" src="\/api\/console\/assets\/app-/);
  });

  it("health answers 200 without secrets", async () => {
    const response = await fetch(`${stack.functionsUrl}/api/health`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(stack.settings.IDENTITY_HEADER!);
  });

  it("HTTP: streams a chat completion through the official openai client", async () => {
    const client = new OpenAI({ baseURL: `${stack.functionsUrl}/api/v1`, apiKey: "unused-locally" });
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      stream: true,
      messages: [{ role: "user", content: "Say hello." }],
    });
    let chunks = 0;
    let content = "";
    for await (const chunk of stream) {
      chunks++;
      content += chunk.choices[0]?.delta?.content ?? "";
    }
    expect(chunks).toBeGreaterThan(2);
    expect(content.length).toBeGreaterThan(0);
  });

  it("queue: an enqueued embeddings message produces its result blob", async () => {
    await enqueue(send, { text: JSON.stringify({ id: "e2e-doc", input: "The quick brown fox" }), queue: "embeddings", encoding: "base64" });
    const result = send.blobs.getContainerClient("embeddings").getBlobClient("e2e-doc.json");
    await eventually("embeddings/e2e-doc.json", async () => ((await result.exists()) ? true : undefined), 20_000);
    const document = JSON.parse((await result.downloadToBuffer()).toString("utf8")) as Record<string, unknown>;
    expect(JSON.stringify(document)).toContain("e2e-doc");
  });

  it("the send CLI enqueues (base64) and uploads with metadata as a user would", async () => {
    const cli = path.join(root, "dist", "tools", "send", "cli.js");
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first.`);
    const env = { ...process.env, AzureWebJobsStorage: stack.settings.AzureWebJobsStorage!, FUNCTIONS_URL: stack.functionsUrl };
    const run = (...args: string[]) => execFileAsync(process.execPath, [cli, ...args], { cwd: root, env });

    const enqueued = await run("enqueue", JSON.stringify({ id: "cli-doc", input: "from the CLI" }));
    expect(enqueued.stdout).toMatch(/Enqueued message .* on "embeddings" \(base64\)/);
    const result = send.blobs.getContainerClient("embeddings").getBlobClient("cli-doc.json");
    await eventually("embeddings/cli-doc.json", async () => ((await result.exists()) ? true : undefined), 20_000);

    const uploaded = await run("upload", "--sample", "--name", "cli/hello.wav", "--metadata", "speaker=ada");
    expect(uploaded.stdout).toContain("/audio/cli/hello.wav");
    const properties = await send.blobs.getContainerClient("audio").getBlobClient("cli/hello.wav").getProperties();
    expect(properties.metadata).toEqual({ speaker: "ada" });
    expect(properties.contentType).toBe("audio/wav");
  });

  it("the send CLI says where results land and reads them back (get, list); it refuses non-JSON for the embeddings queue", async () => {
    const cli = path.join(root, "dist", "tools", "send", "cli.js");
    const env = {
      ...process.env,
      AzureWebJobsStorage: stack.settings.AzureWebJobsStorage!,
      FUNCTIONS_URL: stack.functionsUrl,
      EMBEDDINGS_QUEUE: "embeddings",
    };
    const run = (...args: string[]) => execFileAsync(process.execPath, [cli, ...args], { cwd: root, env });

    const enqueued = await run("enqueue", JSON.stringify({ id: "cli-get", input: "read me back" }));
    expect(enqueued.stdout).toContain("npm run send -- get embeddings/cli-get.json");
    const document = await eventually(
      "embeddings/cli-get.json through the CLI",
      async () =>
        run("get", "embeddings/cli-get.json").then(
          (r) => JSON.parse(r.stdout) as { id: string },
          () => undefined,
        ),
      20_000,
    );
    expect(document.id).toBe("cli-get");
    // `get ... | head`: the reader going away early ends the CLI quietly (no EPIPE stack trace).
    const piped = spawn(process.execPath, [cli, "get", "embeddings/cli-get.json"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    piped.stdout.destroy();
    let pipedErr = "";
    piped.stderr.on("data", (d: Buffer) => (pipedErr += d.toString()));
    expect(await new Promise((resolve) => piped.once("close", resolve))).toBe(0);
    expect(pipedErr).toBe("");

    const uploaded = await run("upload", "--sample", "--name", "cli get/it's.wav");
    expect(uploaded.stdout).toContain(`curl '${stack.functionsUrl}/api/transcriptions/cli%20get/it'\\''s.wav'`);
    expect(uploaded.stdout).toContain(`npm run send -- get 'transcripts/cli get/it'\\''s.wav.txt'`);
    const text = await eventually(
      "the transcript through the CLI",
      async () =>
        run("get", "transcripts/cli get/it's.wav.txt").then(
          (r) => r.stdout,
          () => undefined,
        ),
      20_000,
    );
    expect(text.trim().length).toBeGreaterThan(0);
    expect((await run("list", "transcripts/cli get/")).stdout).toMatch(/transcripts\/cli get\/it's\.wav\.json\n/);

    const missing = await run("get", "embeddings/never.json").catch((error: { code: number; stderr: string }) => error);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining("embeddings/never.json does not exist") });
    const notJson = await run("enqueue", "just text").catch((error: { code: number; stderr: string }) => error);
    expect(notJson).toMatchObject({ code: 1, stderr: expect.stringContaining("The embeddings queue takes a JSON object") });
  });

  it("blob: an uploaded audio file is transcribed", async () => {
    const blob = await upload(send, { sample: true, container: "audio", name: "e2e/hello.wav", metadata: { source: "e2e" } });
    expect(blob.name).toBe("e2e/hello.wav");
    const transcripts = send.blobs.getContainerClient("transcripts");
    const names = await eventually(
      "a transcript of e2e/hello.wav",
      async () => {
        const found: string[] = [];
        for await (const item of transcripts.listBlobsFlat({ prefix: "e2e/hello.wav" })) found.push(item.name);
        return found.some((n) => !n.endsWith(".status.json")) ? found : undefined;
      },
      20_000,
    );
    expect(names.length).toBeGreaterThan(0);
  });
});

describe("npm start stack with AUDIO_BLOB_TRIGGER_SOURCE=EventGrid (the Flex Consumption path)", () => {
  let stack: Stack;
  let send: SendContext;

  beforeAll(async () => {
    ({ stack, send } = await startLikeNpmStart({ AUDIO_BLOB_TRIGGER_SOURCE: "EventGrid" }));
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("transcribes an upload once the send CLI posts the BlobCreated event to the webhook", async () => {
    expect(stack.functions.find((f) => f.name === "transcribeAudio")?.source).toBe("EventGrid");
    const blob = await upload(send, { sample: true, container: "audio", name: "grid/hello.wav", metadata: {} });
    const status = await postBlobCreated(send, {
      container: "audio",
      blobName: blob.name,
      functionName: "transcribeAudio",
      functionsUrl: stack.functionsUrl,
    });
    expect(status).toBe(202);
    const transcripts = send.blobs.getContainerClient("transcripts");
    await eventually(
      "a transcript of grid/hello.wav",
      async () => {
        for await (const item of transcripts.listBlobsFlat({ prefix: "grid/hello.wav" })) {
          if (!item.name.endsWith(".status.json")) return true;
        }
        return undefined;
      },
      20_000,
    );
  });
});

describe("npm start stack restarted on the same .azurite data", () => {
  it("keeps blobs and receipts: a processed upload is not transcribed again after a restart", async () => {
    const sample = JSON.parse(readFileSync(path.join(root, "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> };
    const location = mkdtempSync(path.join(os.tmpdir(), "azurite-data-"));
    const logs: string[] = [];
    const options = {
      root,
      settings: effectiveSettings(sample.Values, {}),
      functionsPort: 0,
      simulatorPort: 0,
      azurite: { blobPort: 0, queuePort: 0, tablePort: 0, location },
      useFunc: false as const,
      healthTimeoutMs: 45_000,
      hostOptions: { blobScanIntervalMs: 300, isolateEnv: true },
      onLog: (source: string, line: string) => {
        if (source === "host") logs.push(line);
      },
    };
    const first = await startStack(options);
    try {
      const blobs = BlobServiceClient.fromConnectionString(first.settings.AzureWebJobsStorage!);
      await upload(
        {
          settings: first.settings,
          blobs,
          queues: QueueServiceClient.fromConnectionString(first.settings.AzureWebJobsStorage!),
          messageEncoding: "base64",
          functionsUrl: first.functionsUrl,
        },
        { sample: true, container: "audio", name: "keep/hello.wav", metadata: {} },
      );
      await eventually(
        "the first transcription",
        async () => (logs.some((l) => l.includes("Executed 'Host.Functions.transcribeAudio' (Succeeded")) ? true : undefined),
        20_000,
      );
    } finally {
      await first.stop();
    }
    logs.length = 0;
    const second = await startStack(options);
    try {
      const blobs = BlobServiceClient.fromConnectionString(second.settings.AzureWebJobsStorage!);
      expect(await blobs.getContainerClient("audio").getBlobClient("keep/hello.wav").exists()).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // several scans
      expect(logs.filter((l) => l.includes("Executing 'Host.Functions.transcribeAudio'"))).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 90_000);
});

/**
 * The stack as `npm start` builds it from the sample settings (plus `overrides`), on free ports,
 * with a send-CLI context pointed at it.
 */
async function startLikeNpmStart(overrides: Record<string, string> = {}): Promise<{ stack: Stack; send: SendContext }> {
  const sample = JSON.parse(readFileSync(path.join(root, "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> };
  const stack = await startStack({
    root,
    settings: effectiveSettings({ ...sample.Values, ...overrides }, {}),
    functionsPort: 0,
    simulatorPort: 0,
    azurite: { blobPort: 0, queuePort: 0, tablePort: 0 },
    useFunc: false,
    healthTimeoutMs: 45_000,
    hostOptions: { blobScanIntervalMs: 300, isolateEnv: true },
  });
  const connection = stack.settings.AzureWebJobsStorage!;
  const send: SendContext = {
    settings: stack.settings,
    blobs: BlobServiceClient.fromConnectionString(connection),
    queues: QueueServiceClient.fromConnectionString(connection),
    messageEncoding: "base64",
    functionsUrl: stack.functionsUrl,
  };
  return { stack, send };
}

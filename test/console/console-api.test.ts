/**
 * The console's app endpoints over HTTP against the real local stack (Azurite, simulator, local
 * host with function keys enforced): the static page's headers, and the job endpoints' key check,
 * name checks and effects in storage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listRecentJobs } from "../../src/console-api/list-jobs.js";
import { buildConsole } from "../../tools/console/build-console.js";
import { makeWav } from "../support/audio/wav.js";
import { startStack, type Stack } from "../support/stack.js";

const KEY = "console-test-key-0123456789";
let stack: Stack;
let base: string;
const keyed = (init: RequestInit = {}): RequestInit => ({ ...init, headers: { "x-functions-key": KEY, ...init.headers } });

beforeAll(async () => {
  await buildConsole();
  stack = await startStack({
    env: { HTTP_MAX_AUDIO_BYTES: "65536" },
    host: { enforceKeys: true, keys: { default: KEY } },
  });
  base = `${stack.host.url}/api`;
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

describe("GET /api/console", () => {
  it("serves the page without a key, with a CSP that allows only the app's own origin", async () => {
    for (const path of ["/console", "/console/"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toMatch(/https?:|'unsafe-inline'|\*/);
      const page = await response.text();
      expect(page).not.toContain(KEY);
      const script = /src="(\/api\/console\/assets\/app-[^"]+\.js)"/.exec(page)?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${stack.host.url}${script}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      // fetch asks for gzip and decodes it: the app compressed what the browser downloads.
      expect(asset.headers.get("content-encoding")).toBe("gzip");
      expect(await asset.text()).toMatch(/^.{1000,}$/s);
    }
  });

  it("answers 404 for anything but the built files", async () => {
    for (const path of ["/console/..%2Fhost.json", "/console/assets/none.js", "/console/.hidden.js", "/console/index.ts"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text()).not.toContain('"version"');
    }
  });
});

describe("job endpoints", () => {
  it("refuse callers without the function key", async () => {
    const calls: [string, RequestInit][] = [
      ["/jobs/transcriptions", {}],
      ["/jobs/blobs/transcripts/a.wav.json", {}],
      ["/jobs/audio/a.wav", { method: "POST", body: "x" }],
      ["/jobs/queues/embeddings", { method: "POST", body: "{}" }],
    ];
    for (const [path, init] of calls) expect((await fetch(`${base}${path}`, init)).status, path).toBe(401);
  });

  it("upload streams the body into the audio container with the options as metadata, and the job is listed with app links", async () => {
    const wav = makeWav([{ tone: 440, seconds: 0.5 }]);
    const response = await fetch(
      `${base}/jobs/audio/console%20tests/tone.wav?language=en&formats=json,txt&prompt=${encodeURIComponent("Grüße")}`,
      keyed({ method: "POST", body: wav, headers: { "content-type": "audio/wav" } }),
    );
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ name: "console tests/tone.wav", bytes: wav.length });
    const blob = stack.blobService.getContainerClient("audio").getBlobClient("console tests/tone.wav");
    const properties = await blob.getProperties();
    expect(properties.metadata).toEqual({ language: "en", formats: "json,txt", prompt: encodeURIComponent("Grüße") });
    expect(properties.contentType).toBe("audio/wav");
    expect(Buffer.compare(await blob.downloadToBuffer(), wav)).toBe(0);

    const listed = (await (await fetch(`${base}/jobs/transcriptions`, keyed())).json()) as {
      data: { name: string; links: Record<string, string> }[];
      has_more: boolean;
      listed: number;
    };
    const job = listed.data.find((j) => j.name === "console tests/tone.wav");
    expect(job).toBeDefined();
    for (const link of Object.values(job!.links)) expect(link).toMatch(/^\/api\/jobs\/blobs\/transcripts\//);
    expect(listed).toMatchObject({ has_more: false, listed: expect.any(Number) as number });
  });

  it("the job list says when the audio container holds more files than one listing looks at", async () => {
    // Storage lists by name: of these four, "z" is the newest but comes last, past a listing of three.
    const container = stack.blobService.getContainerClient("jobs-more");
    await container.createIfNotExists();
    for (const name of ["a.wav", "b.wav", "c.wav", "z.wav"]) await container.getBlockBlobClient(name).upload("x", 1);
    const deps = { blobService: stack.blobService, audioContainer: "jobs-more", transcriptsContainer: "transcripts" };
    expect(await listRecentJobs({ ...deps, maxListed: 3 }, 10)).toMatchObject({ hasMore: true, listed: 3 });
    expect(await listRecentJobs({ ...deps, maxListed: 4 }, 10)).toMatchObject({ hasMore: false, listed: 4 });
    expect(await listRecentJobs({ ...deps, audioContainer: "no-such-container" }, 10)).toEqual({ jobs: [], hasMore: false, listed: 0 });
  });

  it("upload refuses unknown options, names leaving the container and bodies over HTTP_MAX_AUDIO_BYTES", async () => {
    const wav = makeWav([{ tone: 440, seconds: 0.1 }]);
    const unknown = await fetch(`${base}/jobs/audio/a.wav?lang=en`, keyed({ method: "POST", body: wav }));
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain('Unknown transcription option "lang"');
    const escape = await fetch(`${base}/jobs/audio/..%2Ftranscripts%2Fx.wav`, keyed({ method: "POST", body: wav }));
    expect(escape.status).toBe(400);
    const big = await fetch(`${base}/jobs/audio/too-big.wav`, keyed({ method: "POST", body: Buffer.alloc(70_000, 1) }));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { message: string } }).error.message).toContain("HTTP_MAX_AUDIO_BYTES");
    expect(await stack.blobService.getContainerClient("audio").getBlobClient("too-big.wav").exists()).toBe(false);
    const empty = await fetch(`${base}/jobs/audio/empty.wav`, keyed({ method: "POST", body: "" }));
    expect(empty.status).toBe(400);
    // An empty streamed body (no content-length) over an existing recording leaves the recording as it was.
    const kept = stack.blobService.getContainerClient("audio").getBlockBlobClient("kept.wav");
    await kept.uploadData(wav);
    const etag = (await kept.getProperties()).etag;
    const nothing = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    const streamed = await fetch(`${base}/jobs/audio/kept.wav`, keyed({ method: "POST", body: nothing, duplex: "half" } as RequestInit));
    expect(streamed.status).toBe(400);
    expect((await kept.getProperties()).etag).toBe(etag);
    expect(Buffer.compare(await kept.downloadToBuffer(), wav)).toBe(0);
  });

  it("blob reads reach only the output containers, with a fixed content type and a sandbox", async () => {
    await stack.blobService
      .getContainerClient("embeddings")
      .getBlockBlobClient("read/me.json")
      .upload('{"a":1}', 7, {
        blobHTTPHeaders: { blobContentType: "text/html" },
      });
    const read = await fetch(`${base}/jobs/blobs/embeddings/read/me.json`, keyed());
    expect(read.status).toBe(200);
    expect(read.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(read.headers.get("content-security-policy")).toContain("sandbox");
    expect(await read.json()).toEqual({ a: 1 });
    expect((await fetch(`${base}/jobs/blobs/audio/console%20tests/tone.wav`, keyed())).status).toBe(400);
    expect((await fetch(`${base}/jobs/blobs/embeddings/missing.json`, keyed())).status).toBe(404);
  });

  it("enqueue puts the JSON base64-encoded on the named queue and says where the result will be", async () => {
    await stack.queueService.getQueueClient("speech").clearMessages();
    const response = await fetch(
      `${base}/jobs/queues/speech`,
      keyed({ method: "POST", body: JSON.stringify({ id: "hello/1", input: "Hi", voice: "alloy" }) }),
    );
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({
      id: "hello/1",
      result: "/api/jobs/blobs/speech/hello/1.json",
      error: "/api/jobs/blobs/speech/hello/1.error.json",
    });
    const unknownQueue = await fetch(`${base}/jobs/queues/audio`, keyed({ method: "POST", body: "{}" }));
    expect(unknownQueue.status).toBe(400);
    const notObject = await fetch(`${base}/jobs/queues/embeddings`, keyed({ method: "POST", body: "[1]" }));
    expect(notObject.status).toBe(400);
  });
});

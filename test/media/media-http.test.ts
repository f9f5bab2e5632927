/**
 * Speech, images and legacy completions through the app (POST /api/v1/audio/speech,
 * /images/generations, /images/edits, /completions) in the local host with the simulator, called
 * as their users call them: the official `openai` client. Speech is streamed to a file and checked
 * as audio of the format asked for, and shown to stream (first bytes long before the last); images
 * are decoded; completions are read streamed and not; failures keep OpenAI's shape and status.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import OpenAI, { BadRequestError, RateLimitError, toFile } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkAudio } from "../support/audio-checks.js";
import { startStack, type Stack } from "../support/stack.js";

const SPEECH = "gpt-4o-mini-tts";
const IMAGES = "gpt-image-1";
const COMPLETIONS = "instruct";
const FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;

let stack: Stack;
let client: OpenAI;
let dir: string;
const logLines: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    env: { HTTP_AUTH_LEVEL: "anonymous", AZURE_OPENAI_COMPLETIONS_DEPLOYMENT: COMPLETIONS },
    host: { onLog: (line) => logLines.push(line) },
  });
  client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
  dir = await mkdtemp(join(tmpdir(), "speech-"));
});

afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await stack.simulator.control.reset();
  // The simulator ships no legacy completions model: add one, as an Azure resource would deploy it.
  await stack.simulator.control.putDeployment({
    name: COMPLETIONS,
    model: "gpt-35-turbo-instruct",
    modelVersion: "0914",
    capability: "completions",
  });
  logLines.length = 0;
});

/** Streams a speech answer's body into a file, as a caller saving audio would, and reads it back. */
async function speechToFile(response: Response, name: string): Promise<Buffer> {
  const path = join(dir, name);
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(path));
  return readFile(path);
}

async function waitForLog(pattern: RegExp): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const line = logLines.find((l) => pattern.test(l));
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no log line matching ${pattern}; got:\n${logLines.join("\n")}`);
}

describe("POST /api/v1/audio/speech", () => {
  const input = "Hello there. This is the app speaking, in every format it knows.";

  it("answers every response_format as valid audio of that format, as long as the text, with its content type", async () => {
    const pcm = await speechToFile(
      await client.audio.speech.create({ model: SPEECH, voice: "coral", input, response_format: "pcm" }),
      "a.pcm",
    );
    const seconds = checkAudio("pcm", pcm).durationSeconds;
    expect(seconds).toBeGreaterThan(3);
    const types: Record<string, string | null> = {};
    for (const format of FORMATS) {
      const response = await client.audio.speech.create({ model: SPEECH, voice: "coral", input, response_format: format, speed: 1 });
      types[format] = response.headers.get("content-type");
      const audio = await speechToFile(response, `speech.${format}`);
      // Frames round the length: mp3 24 ms, aac 43 ms, opus 20 ms.
      expect(Math.abs(checkAudio(format, audio).durationSeconds - seconds), format).toBeLessThan(0.05);
    }
    expect(types).toEqual({
      mp3: "audio/mpeg",
      opus: "audio/ogg",
      aac: "audio/aac",
      flac: "audio/flac",
      wav: "audio/wav",
      pcm: "audio/pcm",
    });
    // The caller's options reach Azure as sent: speed, instructions.
    const fast = await client.audio.speech.create({
      model: SPEECH,
      voice: "coral",
      input,
      response_format: "wav",
      speed: 2,
      instructions: "Briskly.",
    });
    expect(checkAudio("wav", await speechToFile(fast, "fast.wav")).durationSeconds).toBeCloseTo(seconds / 2, 1);
    const sent = (await stack.simulator.control.journal({ operation: "audio/speech" })).at(-1)!.body;
    expect(sent).toMatchObject({ model: SPEECH, speed: 2, instructions: "Briskly.", response_format: "wav" });
  });

  it("streams: the first bytes reach the caller long before Azure has finished", async () => {
    // About 10 s of audio generated at a fifth of real time: Azure takes ~2 s for the whole.
    await stack.simulator.control.setLatency(SPEECH, { audioRealTimeFactor: 0.2, requestMs: 0, stdDevRatio: 0 });
    const long = "One two three four five six seven eight nine ten. Eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen.";
    const started = performance.now();
    const response = await client.audio.speech.create({ model: SPEECH, voice: "coral", input: long, response_format: "wav" });
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    let firstByteAt = 0;
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      if (chunks.length === 0) firstByteAt = performance.now() - started;
      chunks.push(read.value);
    }
    const total = performance.now() - started;
    const seconds = checkAudio("wav", Buffer.concat(chunks)).durationSeconds;
    expect(total).toBeGreaterThan(seconds * 0.2 * 1000 * 0.8);
    expect(firstByteAt).toBeLessThan(total / 2);
    expect(chunks.length).toBeGreaterThan(2);
    // Usage logged once the audio has gone out: the characters spoken.
    expect(await waitForLog(/Azure OpenAI audio\.speech deployment=gpt-4o-mini-tts .*status=200 characters=\d+/)).toContain(
      `characters=${long.length}`,
    );
  });

  it("a caller who hangs up mid-audio stops the upstream request", async () => {
    await stack.simulator.control.setLatency(SPEECH, { audioRealTimeFactor: 0.5, requestMs: 0, stdDevRatio: 0 });
    const abort = new AbortController();
    const response = await client.audio.speech.create(
      {
        model: SPEECH,
        voice: "coral",
        input: "A long sentence that takes a good while to speak out loud. ".repeat(4),
        response_format: "pcm",
      },
      { signal: abort.signal },
    );
    const reader = response.body!.getReader();
    await reader.read();
    abort.abort();
    await reader.cancel().catch(() => undefined);
    await waitForLog(/audio\.speech \(caller disconnected\)/);
    for (let i = 0; i < 50; i++) {
      const entry = (await stack.simulator.control.journal({ operation: "audio/speech" })).at(-1);
      if (entry?.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("the simulator never saw the upstream request cut");
  });

  it("bad input is answered 400 naming the field; throttling 429 with Retry-After", async () => {
    const refuse = (body: Record<string, unknown>) =>
      client.audio.speech.create({ model: SPEECH, voice: "coral", input: "hi", ...body } as OpenAI.Audio.SpeechCreateParams).then(
        () => Promise.reject(new Error("expected a failure")),
        (error: unknown) => error as BadRequestError,
      );
    expect((await refuse({ speed: 5 })).param).toBe("speed");
    expect((await refuse({ input: "x".repeat(4097) })).param).toBe("input");
    expect((await refuse({ response_format: "ogg" })).param).toBe("response_format");
    const model = await refuse({ model: "tts-1" });
    expect([model.status, model.code, model.param]).toEqual([400, "model_not_found", "model"]);
    expect((await stack.simulator.control.journal({ operation: "audio/speech" })).length).toBe(0);

    await stack.simulator.control.setFaults(SPEECH, [{ kind: 429, ms: 3000 }]);
    const throttled = await refuse({});
    expect(throttled).toBeInstanceOf(RateLimitError);
    expect(throttled.headers.get("retry-after")).toBe("3");
  });
});

describe("POST /api/v1/images/generations and /images/edits", () => {
  function expectPng(b64: string, width: number, height: number): void {
    const png = Buffer.from(b64, "base64");
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([width, height]);
  }

  it("generates b64_json PNGs of the size asked, with usage and Azure's content-filter results", async () => {
    const result = await client.images.generate({ model: IMAGES, prompt: "a lighthouse at dusk", size: "1536x1024", quality: "low", n: 2 });
    expect(result.data).toHaveLength(2);
    for (const image of result.data!) expectPng(image.b64_json!, 1536, 1024);
    expect(result.data![0]).toMatchObject({
      content_filter_results: { violence: { filtered: false, severity: "safe" } },
      prompt_filter_results: { jailbreak: { filtered: false, detected: false } },
    });
    expect(result.usage).toMatchObject({ output_tokens: 800 });
    expect(await waitForLog(/Azure OpenAI images\.generate deployment=gpt-image-1 .*status=200/)).toMatch(/completionTokens=800/);
  });

  it("edits images sent as a multipart upload", async () => {
    const source = Buffer.from(
      (await client.images.generate({ model: IMAGES, prompt: "a cat", quality: "low" })).data![0]!.b64_json!,
      "base64",
    );
    const edited = await client.images.edit({
      model: IMAGES,
      image: [await toFile(source, "a.png", { type: "image/png" }), await toFile(source, "b.png", { type: "image/png" })],
      prompt: "the cat wearing a hat",
      size: "1024x1536",
      quality: "low",
      n: 2,
    });
    expect(edited.data).toHaveLength(2);
    expectPng(edited.data![0]!.b64_json!, 1024, 1536);
    expect(edited.usage).toMatchObject({ input_tokens_details: { image_tokens: 2 * 765 } });
    const sent = (await stack.simulator.control.journal({ operation: "images/edits" }))[0]!.body as {
      files: { field: string }[];
      n: string;
    };
    expect(sent.files.map((f) => f.field)).toEqual(["image[]", "image[]"]);
    expect(sent.n).toBe("2");
  });

  it("bad input 400 naming the field; Azure's refusal passes on; throttling 429 with Retry-After", async () => {
    const refused = (promise: Promise<unknown>) =>
      promise.then(
        () => Promise.reject(new Error("expected a failure")),
        (error: unknown) => error as BadRequestError,
      );
    expect((await refused(client.images.generate({ model: IMAGES, prompt: "x", n: 11 }))).param).toBe("n");
    expect((await refused(client.images.generate({ model: IMAGES, prompt: "" }))).param).toBe("prompt");
    expect(
      (
        await refused(
          client.images.edit({ model: IMAGES, prompt: "x", image: await toFile(Buffer.from("text"), "a.txt", { type: "text/plain" }) }),
        )
      ).param,
    ).toBe("image");
    // gpt-image-1 always answers base64: Azure refuses response_format, and its 400 reaches the caller.
    const azure = await refused(client.images.generate({ model: IMAGES, prompt: "x", response_format: "url" }));
    expect([azure.status, azure.param]).toEqual([400, "response_format"]);
    await stack.simulator.control.setFaults(IMAGES, [{ kind: 429, ms: 2000 }]);
    const throttled = await refused(client.images.generate({ model: IMAGES, prompt: "x" }));
    expect(throttled).toBeInstanceOf(RateLimitError);
    expect(throttled.headers.get("retry-after")).toBe("2");
  });
});

describe("POST /api/v1/completions (legacy)", () => {
  it("answers a completion with usage, logged", async () => {
    const completion = await client.completions.create({ model: COMPLETIONS, prompt: "Once upon a time", max_tokens: 12 });
    expect(completion.object).toBe("text_completion");
    expect(completion.choices[0]!.text.length).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    expect(await waitForLog(/Azure OpenAI completions deployment=instruct .*status=200/)).toMatch(/promptTokens=\d+ completionTokens=\d+/);
  });

  it("streams chunks that all carry a choice; usage only when asked for; usage logged either way", async () => {
    const stream = await client.completions.create({ model: COMPLETIONS, prompt: "Once upon a time", max_tokens: 12, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((c) => c.choices.length === 1 && !("usage" in c))).toBe(true);
    expect(chunks.map((c) => c.choices[0]!.text).join("").length).toBeGreaterThan(0);
    expect(await waitForLog(/Azure OpenAI completions stream deployment=instruct/)).toMatch(/completionTokens=\d+/);

    const withUsage = await client.completions.create({
      model: COMPLETIONS,
      prompt: "Hi",
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const all = [];
    for await (const chunk of withUsage) all.push(chunk);
    expect(all.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: expect.any(Number) as number } });
  });

  it("bad input 400 naming the field; another model 400 model_not_found; throttling 429", async () => {
    const refused = (promise: Promise<unknown>) =>
      promise.then(
        () => Promise.reject(new Error("expected a failure")),
        (error: unknown) => error as BadRequestError,
      );
    expect((await refused(client.completions.create({ model: COMPLETIONS, prompt: "x", max_tokens: -1 }))).param).toBe("max_tokens");
    expect((await refused(client.completions.create({ model: "gpt-4o-mini", prompt: "x" }))).code).toBe("model_not_found");
    await stack.simulator.control.setFaults(COMPLETIONS, [{ kind: 429, ms: 1000 }]);
    const throttled = await refused(client.completions.create({ model: COMPLETIONS, prompt: "x", stream: true }));
    expect(throttled).toBeInstanceOf(RateLimitError);
    expect(throttled.headers.get("retry-after")).toBe("1");
  });
});

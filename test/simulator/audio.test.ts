import { BadRequestError, toFile } from "openai";
import { checkAudio } from "../support/audio-checks.js";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_AUDIO_BYTES, type Simulator } from "../../tools/simulator/index.js";
import { mp4, oggOpus, webm } from "./containers.js";
import type OpenAI from "openai";
import { azureClient, mp3, startFast, v1Client, wav, unexpected } from "./helpers.js";
import type { TranscriptionVerbose } from "openai/resources/audio/transcriptions";

let sim: Simulator;
beforeAll(async () => {
  sim = await startFast();
});
afterAll(() => sim.stop());
beforeEach(() => sim.control.reset());

/** The official client's shape of a verbose answer (segments included), not a copy of the simulator's. */
type Verbose = TranscriptionVerbose;

async function verbose(file: Buffer, name: string, extra: Record<string, unknown> = {}): Promise<Verbose> {
  const client = azureClient(sim, { maxRetries: 0 });
  return (await client.audio.transcriptions.create({
    model: "whisper",
    file: await toFile(file, name),
    response_format: "verbose_json",
    ...extra,
  })) as unknown as Verbose;
}

function expectCovers(v: Verbose, duration: number): void {
  const segs = v.segments!;
  expect(segs[0]!.start).toBe(0);
  expect(segs.at(-1)!.end).toBeCloseTo(duration, 2);
  segs.forEach((s, i) => {
    expect(s.id).toBe(i);
    expect(s.end).toBeGreaterThan(s.start);
    if (i > 0) expect(s.start).toBeCloseTo(segs[i - 1]!.end, 2);
    expect(s.end - s.start).toBeLessThanOrEqual(7.5);
    expect(s.seek).toBe(Math.floor(s.start / 30) * 3000);
    expect(s.tokens.length).toBeGreaterThan(0);
    for (const k of ["temperature", "avg_logprob", "compression_ratio", "no_speech_prob"] as const) expect(typeof s[k]).toBe("number");
  });
}

describe("transcriptions follow the real duration of the audio", () => {
  it("WAV: duration from the header; segments cover [0, duration]; text grows with length", async () => {
    const short = await verbose(wav(4), "short.wav");
    const long = await verbose(wav(95), "long.wav");
    expect(short.duration).toBeCloseTo(4, 3);
    expect(long.duration).toBeCloseTo(95, 3);
    expectCovers(short, 4);
    expectCovers(long, 95);
    // About 2.5 words a second.
    expect(long.text.split(" ").length).toBeGreaterThan(95 * 2);
    expect(long.text.split(" ").length).toBeLessThan(95 * 3);
    expect(long.segments!.some((s) => s.seek === 3000)).toBe(true);
  });

  it("MP3: frames summed (a real encoder's output)", async () => {
    const v = await verbose(await mp3(4.3), "clip.mp3");
    expect(Math.abs(v.duration - 4.3)).toBeLessThan(0.1);
    expectCovers(v, v.duration);
    const lowRate = await verbose(await mp3(3, 22050, 32), "clip.mp3");
    expect(Math.abs(lowRate.duration - 3)).toBeLessThan(0.15);
  });

  it("MP3 behind an ID3 tag", async () => {
    const body = await mp3(1.5);
    const tag = Buffer.alloc(10 + 200);
    tag.write("ID3", 0, "latin1");
    tag[3] = 4;
    tag[9] = 200;
    const v = await verbose(Buffer.concat([tag, body]), "tagged.mp3");
    expect(Math.abs(v.duration - 1.5)).toBeLessThan(0.1);
  });

  it("FLAC (from the simulator's own speech), Ogg Opus, MP4/M4A (moov before or after mdat), WebM with or without Duration", async () => {
    const speech = Buffer.from(
      await (
        await v1Client(sim).audio.speech.create({
          model: "tts",
          voice: "nova",
          input: "One two three four five. Six seven.",
          response_format: "flac",
        })
      ).arrayBuffer(),
    );
    const speechWav = Buffer.from(
      await (
        await v1Client(sim).audio.speech.create({
          model: "tts",
          voice: "nova",
          input: "One two three four five. Six seven.",
          response_format: "wav",
        })
      ).arrayBuffer(),
    );
    const wavSeconds = (speechWav.length - 44) / (24000 * 2);
    expect((await verbose(speech, "speech.flac")).duration).toBeCloseTo(wavSeconds, 2);
    expect((await verbose(oggOpus(33.5), "a.ogg")).duration).toBeCloseTo(33.5, 2);
    expect((await verbose(mp4(61.25), "a.m4a")).duration).toBeCloseTo(61.25, 2);
    expect((await verbose(mp4(10, "isom", 5000), "a.mp4")).duration).toBeCloseTo(10, 2);
    expect((await verbose(webm(17.5), "a.webm")).duration).toBeCloseTo(17.5, 2);
    expect(Math.abs((await verbose(webm(9, false), "a.webm")).duration - 9)).toBeLessThan(0.1);
    const formats = (await sim.control.journal({ operation: "audio/transcriptions" })).map(
      (e) => (e.body as { file: { format: string } }).file.format,
    );
    expect(formats).toEqual(["flac", "ogg", "m4a", "mp4", "webm", "webm"]);
  });

  it("recognises the format from the bytes, not the file name", async () => {
    const v = await verbose(wav(2), "misnamed.mp3");
    expect(v.duration).toBeCloseTo(2, 3);
    expect((await sim.control.journal())[0]!.body).toMatchObject({ file: { name: "misnamed.mp3", format: "wav" } });
  });

  it("unsupported, empty and corrupt audio: 400", async () => {
    const client = azureClient(sim, { maxRetries: 0 });
    const fail = async (b: Buffer, name: string) =>
      client.audio.transcriptions
        .create({ model: "whisper", file: await toFile(b, name) })
        .then(unexpected, (e: unknown) => e as BadRequestError);
    const text = await fail(Buffer.from("just some text, not audio at all"), "a.wav");
    expect(text).toBeInstanceOf(BadRequestError);
    expect(text.message).toContain("Invalid file format");
    const truncated = wav(1).subarray(0, 30);
    expect((await fail(truncated, "a.wav")).message).toContain("corrupted");
    const noFrames = Buffer.concat([Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x05", "latin1"), Buffer.alloc(5), Buffer.alloc(500, 0x11)]);
    expect((await fail(noFrames, "a.mp3")).message).toContain("corrupted");
    expect((await fail(Buffer.alloc(0), "a.wav")).status).toBe(400);
  });

  it("over 25 MB: 413 like Azure", async () => {
    const big = Buffer.concat([wav(1), Buffer.alloc(MAX_AUDIO_BYTES)]);
    expect(big.length).toBeGreaterThan(MAX_AUDIO_BYTES);
    const e = await azureClient(sim, { maxRetries: 0 })
      .audio.transcriptions.create({ model: "whisper", file: await toFile(big, "big.wav") })
      .then(unexpected, (e: unknown) => e as BadRequestError);
    expect(e.status).toBe(413);
    expect(e.message).toContain("Maximum content size limit (26214400) exceeded");
  });

  it("response formats json, text, srt, vtt, verbose_json; word timestamps", async () => {
    const client = v1Client(sim);
    const file = () => toFile(wav(9), "a.wav");
    const json = await client.audio.transcriptions.create({ model: "whisper", file: await file() });
    const text = (await client.audio.transcriptions.create({
      model: "whisper",
      file: await file(),
      response_format: "text",
    })) as unknown as string;
    const srt = (await client.audio.transcriptions.create({
      model: "whisper",
      file: await file(),
      response_format: "srt",
    })) as unknown as string;
    const vtt = (await client.audio.transcriptions.create({
      model: "whisper",
      file: await file(),
      response_format: "vtt",
    })) as unknown as string;
    expect(text.trim()).toBe(json.text);
    expect(srt).toMatch(/^1\n00:00:00,000 --> 00:00:0\d,\d{3}\n\w/);
    expect(srt).toContain("--> 00:00:09,000");
    expect(vtt).toMatch(/^WEBVTT\n\n00:00:00\.000 --> /);
    const words = await verbose(wav(9), "a.wav", { timestamp_granularities: ["word"] });
    expect(words.segments).toBeUndefined();
    expect(words.words!.at(-1)!.end).toBeCloseTo(9, 2);
    expect(words.words!.length).toBe(words.text.split(" ").length);
    const both = await verbose(wav(9), "a.wav", { timestamp_granularities: ["word", "segment"], language: "de" });
    expect(both.segments!.length).toBeGreaterThan(0);
    expect(both.language).toBe("german");
    // The same audio gets the same transcript.
    expect((await verbose(wav(9), "b.wav")).text).toBe(words.text);
    const bad = await client.audio.transcriptions
      .create({ model: "whisper", file: await file(), response_format: "json", timestamp_granularities: ["word"] })
      .then(unexpected, (e: unknown) => e as BadRequestError);
    expect(bad.status).toBe(400);
  });

  it("translations answer in English", async () => {
    const r = await azureClient(sim).audio.translations.create({
      model: "whisper",
      file: await toFile(wav(5), "a.wav"),
      response_format: "verbose_json",
    });
    expect(r).toMatchObject({ language: "english", duration: 5 });
    expect((await sim.control.journal())[0]!.operation).toBe("audio/translations");
  });

  it("latency follows the audio's length through the real-time factor", async () => {
    await sim.control.setLatency("whisper", { audioRealTimeFactor: 0.01, stdDevRatio: 0 });
    const t0 = performance.now();
    await verbose(wav(30), "a.wav");
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
  });
});

describe("speech and images", () => {
  it("speech: valid WAV, PCM, FLAC and MP3 whose length follows the text and speed", async () => {
    const client = v1Client(sim);
    const get = async (response_format: "wav" | "pcm" | "flac" | "mp3", input = "Hello there, this is a test.", speed = 1) =>
      Buffer.from(await (await client.audio.speech.create({ model: "tts", voice: "alloy", input, response_format, speed })).arrayBuffer());
    const w = await get("wav");
    expect(w.toString("latin1", 0, 4)).toBe("RIFF");
    expect(w.toString("latin1", 8, 12)).toBe("WAVE");
    expect(w.readUInt32LE(24)).toBe(24000);
    expect(w.readUInt32LE(40)).toBe(w.length - 44);
    const pcm = await get("pcm");
    expect(pcm.length).toBe(w.length - 44);
    const longer = await get("pcm", "Hello there, this is a test. ".repeat(4));
    expect(longer.length).toBeGreaterThan(pcm.length * 3);
    const faster = await get("pcm", "Hello there, this is a test.", 2);
    expect(faster.length).toBeLessThan(pcm.length * 0.6);
    const flac = await get("flac");
    expect(flac.toString("latin1", 0, 4)).toBe("fLaC");
    // MP3 is the default format; a transcription of it measures the same length as the WAV, to the frame.
    const m = Buffer.from(
      await (
        await client.audio.speech.create({ model: "tts", voice: "alloy", input: "Hello there, this is a test. ".repeat(20) })
      ).arrayBuffer(),
    );
    const long = await get("pcm", "Hello there, this is a test. ".repeat(20));
    const v = await verbose(m, "speech.mp3");
    expect(Math.abs(v.duration - long.length / 48000)).toBeLessThanOrEqual(0.024);
    const bad = await client.audio.speech
      .create({ model: "tts", voice: "robot" as "alloy", input: "x" })
      .then(unexpected, (e: unknown) => e as BadRequestError);
    expect(bad.status).toBe(400);
  });

  it("images: valid PNGs of the requested size, as b64_json or as a url the simulator serves", async () => {
    const client = azureClient(sim);
    const b64 = await client.images.generate({
      model: "dall-e-3",
      prompt: "a lighthouse at dusk",
      size: "1792x1024",
      response_format: "b64_json",
    });
    const png = Buffer.from(b64.data![0]!.b64_json!, "base64");
    expectPng(png, 1792, 1024);
    expect(b64.data![0]!.revised_prompt).toBe("a lighthouse at dusk");
    const url = await client.images.generate({ model: "dall-e-3", prompt: "a lighthouse at dusk" });
    const res = await fetch(url.data![0]!.url!);
    expect(res.headers.get("content-type")).toBe("image/png");
    expectPng(Buffer.from(await res.arrayBuffer()), 1024, 1024);
    const tooMany = await client.images
      .generate({ model: "dall-e-3", prompt: "x", n: 2 })
      .then(unexpected, (e: unknown) => e as BadRequestError);
    expect(tooMany.status).toBe(400);
  });
});

describe("gpt-4o-mini-tts and gpt-image-1 as Azure serves them", () => {
  const FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;
  const speech = async (body: Record<string, unknown>) =>
    Buffer.from(
      await (
        await v1Client(sim, { maxRetries: 0 }).audio.speech.create({
          model: "gpt-4o-mini-tts",
          voice: "coral",
          input: "Hello there. This is a test of every format.",
          ...body,
        } as Parameters<OpenAI["audio"]["speech"]["create"]>[0])
      ).arrayBuffer(),
    );

  it("every response_format is valid audio of that format, as long as the text", async () => {
    const expected = checkAudio("pcm", await speech({ response_format: "pcm" })).durationSeconds;
    expect(expected).toBeGreaterThan(2);
    for (const format of FORMATS) {
      const bytes = await speech({ response_format: format });
      // Frame granularity: mp3 24 ms, aac 43 ms, opus 20 ms.
      expect(Math.abs(checkAudio(format, bytes).durationSeconds - expected), format).toBeLessThan(0.05);
    }
    // The simulator's Whisper reads the Opus stream's length from its last granule, as a real reader would.
    const opus = await speech({ response_format: "opus" });
    expect((await verbose(opus, "speech.opus")).duration).toBeCloseTo(expected, 1);
    const halfSpeed = checkAudio("wav", await speech({ response_format: "wav", speed: 0.5 })).durationSeconds;
    expect(halfSpeed).toBeCloseTo(expected * 2, 1);
  });

  it("instructions: gpt-4o-mini-tts takes them (and they change the voice); tts refuses them, naming the parameter", async () => {
    const plain = await speech({ response_format: "pcm" });
    const cheerful = await speech({ response_format: "pcm", instructions: "Speak cheerfully." });
    expect(cheerful.length).toBe(plain.length);
    expect(cheerful.equals(plain)).toBe(false);
    const refused = await speech({ model: "tts", voice: "alloy", instructions: "Speak cheerfully." }).then(
      unexpected,
      (e: unknown) => e as BadRequestError,
    );
    expect(refused.status).toBe(400);
    expect(refused.param).toBe("instructions");
    const tooFast = await speech({ speed: 5 }).then(unexpected, (e: unknown) => e as BadRequestError);
    expect(tooFast.param).toBe("speed");
  });

  it("the audio streams: chunked, the first bytes long before the last", async () => {
    await sim.control.setLatency("gpt-4o-mini-tts", { audioRealTimeFactor: 0.2, requestMs: 0, stdDevRatio: 0 });
    const started = performance.now();
    const res = await fetch(`${sim.url}/openai/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini-tts",
        voice: "coral",
        input: "One two three four five six seven eight nine ten.",
        response_format: "wav",
      }),
    });
    expect(res.headers.get("content-type")).toBe("audio/wav");
    expect(res.headers.get("content-length")).toBeNull();
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    let firstAt = 0;
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      if (!chunks.length) firstAt = performance.now() - started;
      chunks.push(read.value);
    }
    const total = performance.now() - started;
    const wavBytes = Buffer.concat(chunks);
    const seconds = checkAudio("wav", wavBytes).durationSeconds;
    expect(total).toBeGreaterThan(seconds * 0.2 * 1000 * 0.8);
    expect(firstAt).toBeLessThan(total / 3);
  });

  it("stream_format sse on gpt-4o-mini-tts: audio deltas then done with usage; not on tts", async () => {
    const res = await fetch(`${sim.url}/openai/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini-tts",
        voice: "coral",
        input: "Hello there.",
        response_format: "pcm",
        stream_format: "sse",
      }),
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    // The speech stream ends with its done event (no [DONE] line, unlike chat).
    const text = await res.text();
    expect(text.endsWith("\n\n")).toBe(true);
    const lines = text.split("\n\n").filter(Boolean);
    for (const line of lines) expect(line).toMatch(/^data: \{[^\n]+\}$/);
    const events = lines
      .map((line) => line.slice("data: ".length))
      .map((e) => JSON.parse(e) as { type: string; audio?: string; usage?: { total_tokens: number } });
    const audio = Buffer.concat(events.filter((e) => e.type === "speech.audio.delta").map((e) => Buffer.from(e.audio!, "base64")));
    expect(audio.length).toBe((await speech({ input: "Hello there.", response_format: "pcm" })).length);
    expect(events.at(-1)).toMatchObject({ type: "speech.audio.done", usage: { total_tokens: expect.any(Number) as number } });
    const refused = await speech({ model: "tts", voice: "alloy", stream_format: "sse" }).then(
      unexpected,
      (e: unknown) => e as BadRequestError,
    );
    expect(refused.param).toBe("stream_format");
  });

  it("gpt-image-1: always b64_json, its sizes, qualities, output formats and n, with usage and Azure's filter results", async () => {
    const client = v1Client(sim, { maxRetries: 0 });
    const wide = await client.images.generate({
      model: "gpt-image-1",
      prompt: "a lighthouse at dusk",
      size: "1536x1024",
      quality: "low",
      n: 2,
    });
    expect(wide.data).toHaveLength(2);
    for (const image of wide.data!) {
      expect(image.url).toBeUndefined();
      expectPng(Buffer.from(image.b64_json!, "base64"), 1536, 1024);
      expect(image).toMatchObject({
        content_filter_results: { violence: { filtered: false } },
        prompt_filter_results: { jailbreak: { detected: false } },
      });
    }
    expect(wide).toMatchObject({ size: "1536x1024", quality: "low", output_format: "png", background: "opaque" });
    expect(wide.usage).toMatchObject({ output_tokens: 800, input_tokens_details: { image_tokens: 0 } });
    expect(wide.usage!.input_tokens).toBeGreaterThan(0);
    expect(wide.usage!.total_tokens).toBe(wide.usage!.input_tokens + 800);

    const jpeg = await client.images.generate({ model: "gpt-image-1", prompt: "x", size: "1024x1536", output_format: "jpeg" });
    expectJpeg(Buffer.from(jpeg.data![0]!.b64_json!, "base64"), 1024, 1536);
    const webp = await client.images.generate({ model: "gpt-image-1", prompt: "x", size: "auto", output_format: "webp" });
    expectWebp(Buffer.from(webp.data![0]!.b64_json!, "base64"), 1024, 1024);
    expect(webp).toMatchObject({ size: "1024x1024", quality: "high", output_format: "webp" });

    const refuse = async (body: Record<string, unknown>) =>
      client.images
        .generate({ model: "gpt-image-1", prompt: "x", ...body } as Parameters<OpenAI["images"]["generate"]>[0])
        .then(unexpected, (e: unknown) => e as BadRequestError);
    expect((await refuse({ response_format: "b64_json" })).param).toBe("response_format");
    expect((await refuse({ size: "1792x1024" })).param).toBe("size");
    expect((await refuse({ quality: "hd" })).param).toBe("quality");
    expect((await refuse({ n: 11 })).param).toBe("n");
    expect((await refuse({ output_format: "gif" })).param).toBe("output_format");
  });

  it("image edits: gpt-image-1 takes image(s), mask and prompt; dall-e-3 does not edit", async () => {
    const client = v1Client(sim, { maxRetries: 0 });
    const source = Buffer.from(
      (await client.images.generate({ model: "gpt-image-1", prompt: "a cat", quality: "low" })).data![0]!.b64_json!,
      "base64",
    );
    const edited = await client.images.edit({
      model: "gpt-image-1",
      image: [await toFile(source, "a.png", { type: "image/png" }), await toFile(source, "b.png", { type: "image/png" })],
      prompt: "the same cat, wearing a hat",
      size: "1024x1536",
      quality: "low",
    });
    expectPng(Buffer.from(edited.data![0]!.b64_json!, "base64"), 1024, 1536);
    expect(edited.usage).toMatchObject({ input_tokens_details: { image_tokens: 2 * 765 }, output_tokens: 408 });
    const entry = (await sim.control.journal({ operation: "images/edits" }))[0]!;
    expect(entry.body).toMatchObject({
      prompt: "the same cat, wearing a hat",
      files: [
        { field: "image[]", name: "a.png" },
        { field: "image[]", name: "b.png" },
      ],
    });

    const dalle = await client.images
      .edit({ model: "dall-e-3", image: await toFile(source, "a.png", { type: "image/png" }), prompt: "x" })
      .then(unexpected, (e: unknown) => e as BadRequestError);
    expect(dalle.status).toBe(400);
    expect(dalle.code).toBe("OperationNotSupported");
    const notImage = await client.images
      .edit({ model: "gpt-image-1", image: await toFile(Buffer.from("plain text"), "a.png"), prompt: "x" })
      .then(unexpected, (e: unknown) => e as BadRequestError);
    expect(notImage.param).toBe("image");
  });
});

function expectJpeg(jpeg: Buffer, width: number, height: number): void {
  expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  // Walk the marker segments to the start of frame and the scan; the entropy-coded data must end at EOI.
  let pos = 2;
  let frame: { width: number; height: number } | undefined;
  while (jpeg[pos] === 0xff && jpeg[pos + 1] !== 0xda) {
    const length = jpeg.readUInt16BE(pos + 2);
    if (jpeg[pos + 1] === 0xc0) frame = { height: jpeg.readUInt16BE(pos + 5), width: jpeg.readUInt16BE(pos + 7) };
    pos += 2 + length;
  }
  expect(jpeg[pos + 1]).toBe(0xda);
  expect(frame).toEqual({ width, height });
  const scan = jpeg.subarray(pos + 2 + jpeg.readUInt16BE(pos + 2), jpeg.length - 2);
  for (let i = 0; i < scan.length - 1; i++) if (scan[i] === 0xff) expect(scan[i + 1]).toBe(0); // stuffed
  expect(jpeg.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
}

function expectWebp(webp: Buffer, width: number, height: number): void {
  expect(webp.toString("latin1", 0, 4)).toBe("RIFF");
  expect(webp.readUInt32LE(4)).toBe(webp.length - 8);
  expect(webp.toString("latin1", 8, 16)).toBe("WEBPVP8L");
  expect(webp[20]).toBe(0x2f);
  const bits = webp.readUInt32LE(21);
  expect((bits & 0x3fff) + 1).toBe(width);
  expect(((bits >> 14) & 0x3fff) + 1).toBe(height);
}

function expectPng(png: Buffer, width: number, height: number): void {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.toString("latin1", 12, 16)).toBe("IHDR");
  expect(png.readUInt32BE(16)).toBe(width);
  expect(png.readUInt32BE(20)).toBe(height);
  // Decompress the image data: rows of 1 filter byte + RGB.
  const chunks: Buffer[] = [];
  for (let p = 8; p < png.length;) {
    const len = png.readUInt32BE(p);
    if (png.toString("latin1", p + 4, p + 8) === "IDAT") chunks.push(png.subarray(p + 8, p + 8 + len));
    p += 12 + len;
  }
  expect(inflateSync(Buffer.concat(chunks)).length).toBe(height * (width * 3 + 1));
}

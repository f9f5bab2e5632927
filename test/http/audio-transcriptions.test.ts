/**
 * POST /api/v1/audio/transcriptions and /translations through the app in the local host, with
 * Azurite and the simulator, called as their users call them: the official `openai` client with
 * a generated WAV (test/support/audio/). Covers every response_format, translation, a file over
 * Azure's 25 MB limit (split, transcribed in parallel, stitched), the upload limit (413), bad
 * audio (400 with the blob pipeline's codes), throttling (429 for a single request; waited out for
 * a chunk of a split file), model validation, usage logging and a caller who hangs up.
 */
import OpenAI, { APIError, BadRequestError, RateLimitError, toFile } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { makeWav, makeWavOfSize, type AudioPiece } from "../support/audio/wav.js";
import { startStack, type Stack } from "../support/stack.js";
// The official client's own shape of a verbose segment: what callers read, not a copy of ours.
import type { TranscriptionSegment } from "openai/resources/audio/transcriptions";

const WHISPER = "whisper";
const SPEECH_AND_PAUSES: AudioPiece[] = [{ tone: 440, seconds: 8 }, { silence: 1 }, { tone: 660, seconds: 6 }, { silence: 1 }];
/** A short unit (1.2 s, 38 KB) for files sized against the small limits. */
const WORD_AND_PAUSE: AudioPiece[] = [{ tone: 440, seconds: 1 }, { silence: 0.2 }];

/** Strictly ordered, starting at 0, without gaps, ending at the recording's length. */
function expectContinuous(segments: ReadonlyArray<{ id: number; start: number; end: number }>, duration: number): void {
  expect(segments.length).toBeGreaterThan(0);
  expect(segments[0]!.start).toBe(0);
  segments.forEach((segment, i) => {
    expect(segment.id).toBe(i);
    expect(segment.end).toBeGreaterThan(segment.start);
    if (i > 0) expect(segment.start - segments[i - 1]!.end).toBeGreaterThanOrEqual(0);
    // The simulator's segments tile each chunk, so stitched ones must tile the file.
    if (i > 0) expect(segment.start - segments[i - 1]!.end).toBeLessThan(0.002);
  });
  expect(Math.abs(segments.at(-1)!.end - duration)).toBeLessThan(0.002);
}

describe("with the default limits", () => {
  const lines: string[] = [];
  let stack: Stack;
  let client: OpenAI;
  const wav = makeWav(SPEECH_AND_PAUSES); // 16 s

  beforeAll(async () => {
    stack = await startStack({
      env: { HTTP_AUTH_LEVEL: "anonymous" },
      simulator: { latency: NO_LATENCY },
      // The host's own cap (Azure: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, default 100 MB) above the app's.
      host: { onLog: (line) => lines.push(line), maxRequestBodyBytes: 256 * 1024 * 1024 },
    });
    client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(() => stack?.stop());
  beforeEach(() => stack.simulator.control.reset());

  it("answers json with the text and the billed duration, in one upstream call that asked for verbose_json", async () => {
    const { data: result, response } = await client.audio.transcriptions
      .create({ file: await toFile(wav, "meeting.wav"), model: WHISPER })
      .withResponse();
    // The backend that answered: the one-backend table's name for the endpoint's whisper deployment.
    expect(response.headers.get("x-backend")).toBe(`127:${new URL(stack.simulator.url).port}/${WHISPER}`);
    expect(result.text.length).toBeGreaterThan(20);
    expect(result).toMatchObject({ usage: { type: "duration", seconds: 16 } });
    expect(Object.keys(result).sort()).toEqual(["text", "usage"]);
    const journal = await stack.simulator.control.journal({ deployment: WHISPER });
    expect(journal).toHaveLength(1);
    expect(journal[0]).toMatchObject({ status: 200, operation: "audio/transcriptions" });
    expect(journal[0]!.body).toMatchObject({ response_format: "verbose_json", file: { format: "wav" } });
  });

  it("answers text, srt and vtt as text bodies with their content types", async () => {
    const file = async () => toFile(wav, "meeting.wav");
    const text = await client.audio.transcriptions.create({ file: await file(), model: WHISPER, response_format: "text" });
    const json = await client.audio.transcriptions.create({ file: await file(), model: WHISPER });
    expect(text).toBe(`${json.text}\n`);

    const srt = await client.audio.transcriptions.create({ file: await file(), model: WHISPER, response_format: "srt" });
    expect(srt).toMatch(/^1\n00:00:00,000 --> 00:00:0\d,\d{3}\n\S.*\n\n2\n/);
    const vtt = await client.audio.transcriptions.create({ file: await file(), model: WHISPER, response_format: "vtt" });
    expect(vtt).toMatch(/^WEBVTT\n\n00:00:00\.000 --> 00:00:0\d\.\d{3}\n\S/);
    expect(vtt.trimEnd().endsWith("00:00:16.000\n" + vtt.trimEnd().split("\n").at(-1))).toBe(true);

    for (const [format, type] of [
      ["text", "text/plain"],
      ["srt", "text/plain"],
      ["vtt", "text/vtt"],
      ["json", "application/json"],
    ] as const) {
      const form = new FormData();
      form.append("file", new Blob([wav]), "meeting.wav");
      form.append("response_format", format);
      const response = await fetch(`${stack.host.url}/api/v1/audio/transcriptions`, { method: "POST", body: form });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain(type);
    }
  });

  it("answers verbose_json with language, duration, Whisper's segments and, when asked, words", async () => {
    const verbose = await client.audio.transcriptions.create({
      file: await toFile(wav, "meeting.wav"),
      model: WHISPER,
      language: "de",
      prompt: "Contoso",
      temperature: 0.2,
      response_format: "verbose_json",
      timestamp_granularities: ["word", "segment"],
    });
    expect(verbose).toMatchObject({ language: "german", duration: 16, usage: { type: "duration", seconds: 16 } });
    const segments = verbose.segments as unknown as TranscriptionSegment[];
    expectContinuous(segments, 16);
    for (const segment of segments) {
      expect(segment).toEqual({
        id: expect.any(Number),
        seek: expect.any(Number),
        start: expect.any(Number),
        end: expect.any(Number),
        text: expect.any(String),
        tokens: expect.any(Array),
        temperature: 0.2,
        avg_logprob: expect.any(Number),
        compression_ratio: expect.any(Number),
        no_speech_prob: expect.any(Number),
      });
    }
    expect(verbose.words!.length).toBeGreaterThan(10);
    expect(verbose.words![0]).toEqual({ word: expect.any(String), start: 0, end: expect.any(Number) });
    const [call] = await stack.simulator.control.journal({ deployment: WHISPER });
    expect(call!.body).toMatchObject({ language: "de", prompt: "Contoso", temperature: "0.2" });

    const wordsOnly = await client.audio.transcriptions.create({
      file: await toFile(wav, "meeting.wav"),
      model: WHISPER,
      response_format: "verbose_json",
      timestamp_granularities: ["word"],
    });
    expect(wordsOnly.words!.length).toBeGreaterThan(10);
    expect(wordsOnly.segments).toBeUndefined();
  });

  it("translates, in every format, through audio/translations", async () => {
    const json = await client.audio.translations.create({ file: await toFile(wav, "rede.wav"), model: WHISPER });
    expect(Object.keys(json)).toEqual(["text"]);
    const verbose = await client.audio.translations.create({
      file: await toFile(wav, "rede.wav"),
      model: WHISPER,
      response_format: "verbose_json",
    });
    expect(verbose).toMatchObject({ language: "english", duration: 16, text: json.text });
    expectContinuous((verbose as unknown as { segments: TranscriptionSegment[] }).segments, 16);
    const srt = await client.audio.translations.create({ file: await toFile(wav, "rede.wav"), model: WHISPER, response_format: "srt" });
    expect(srt).toMatch(/^1\n00:00:00,000 --> /);
    const journal = await stack.simulator.control.journal({ deployment: WHISPER });
    expect(journal.map((entry) => entry.operation)).toEqual(["audio/translations", "audio/translations", "audio/translations"]);
  });

  it("logs one line per Azure OpenAI call", async () => {
    const before = lines.length;
    await client.audio.transcriptions.create({ file: await toFile(wav, "meeting.wav"), model: WHISPER });
    await expect
      .poll(
        () =>
          lines.slice(before).filter((l) => /Azure OpenAI audio\.transcriptions deployment=whisper latencyMs=\d+ status=200/.test(l))
            .length,
      )
      .toBe(1);
  });

  it("splits a file over Azure's 25 MB limit, transcribes the chunks in parallel and stitches them in order", async () => {
    const { bytes, durationInSeconds } = makeWavOfSize(SPEECH_AND_PAUSES, 60_000_000); // ~31 min, 3 chunks
    const verbose = await client.audio.transcriptions.create({
      file: await toFile(bytes, "long.wav"),
      model: WHISPER,
      response_format: "verbose_json",
    });
    const journal = await stack.simulator.control.journal({ deployment: WHISPER });
    expect(journal).toHaveLength(3);
    for (const entry of journal) {
      expect(entry.status).toBe(200);
      expect((entry.body as { file: { bytes: number } }).file.bytes).toBeLessThanOrEqual(25_000_000);
    }
    const chunkSeconds = journal.map((entry) => (entry.body as { file: { durationSeconds: number } }).file.durationSeconds);
    expect(chunkSeconds.reduce((a, b) => a + b, 0)).toBeCloseTo(durationInSeconds, 2);
    expect(verbose.duration).toBeCloseTo(durationInSeconds, 2);
    expectContinuous(verbose.segments!, durationInSeconds);
    // The chunks' seek offsets are moved into the whole recording too.
    expect(verbose.segments!.at(-1)!.seek).toBeGreaterThan(Math.floor((durationInSeconds - 60) * 100));
    expect(verbose.usage).toMatchObject({ type: "duration", seconds: expect.any(Number) });
    expect((verbose.usage as { seconds: number }).seconds).toBeGreaterThanOrEqual(Math.floor(durationInSeconds));
    // In parallel: every chunk request began before the first one ended.
    const spans = journal.map((entry) => ({ start: Date.parse(entry.time), end: Date.parse(entry.time) + entry.durationMs }));
    expect(Math.max(...spans.map((s) => s.start))).toBeLessThan(Math.min(...spans.map((s) => s.end)) + 50);
    // The text is the chunks' texts in order.
    const srt = await client.audio.transcriptions.create({ file: await toFile(bytes, "long.wav"), model: WHISPER, response_format: "srt" });
    const cues = srt.trim().split("\n\n");
    expect(cues).toHaveLength(verbose.segments!.length);
    expect(cues.at(-1)).toContain(`${verbose.segments!.length}\n`);
  }, 120_000);

  it("refuses empty, corrupt and non-audio files with the blob pipeline's codes, without calling Azure", async () => {
    const cases: Array<[Uint8Array, string]> = [
      [new Uint8Array(0), "empty_audio"],
      [new TextEncoder().encode("just some text, not audio at all ".repeat(20)), "unsupported_audio"],
      [wav.subarray(0, 30), "truncated_audio"],
    ];
    for (const [bytes, code] of cases) {
      const error = await client.audio.transcriptions
        .create({ file: await toFile(bytes, "x.wav"), model: WHISPER })
        .catch((e: unknown) => e);
      expect(error, code).toBeInstanceOf(BadRequestError);
      expect((error as APIError).code).toBe(code);
      expect((error as APIError).param).toBe("file");
    }
    expect(await stack.simulator.control.journal({ deployment: WHISPER })).toHaveLength(0);
  });

  it("refuses an unknown model, format, field or granularity with OpenAI's 400", async () => {
    const file = () => toFile(wav, "meeting.wav");
    const expectBadRequest = async (call: Promise<unknown>, code: string, param: string) => {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error).toMatchObject({ code, param, type: "invalid_request_error" });
    };
    await expectBadRequest(client.audio.transcriptions.create({ file: await file(), model: "whisper-1" }), "model_not_found", "model");
    // A format of another model (the diarize model's): Whisper does not answer it.
    await expectBadRequest(
      client.audio.transcriptions.create({ file: await file(), model: WHISPER, response_format: "diarized_json" }),
      "unsupported_value",
      "response_format",
    );
    await expectBadRequest(
      client.audio.transcriptions.create({ file: await file(), model: WHISPER, response_format: "docx" as "json" }),
      "invalid_value",
      "response_format",
    );
    await expectBadRequest(
      client.audio.transcriptions.create({ file: await file(), model: WHISPER, timestamp_granularities: ["word"] }),
      "invalid_value",
      "timestamp_granularities[]",
    );
    await expectBadRequest(
      client.audio.transcriptions.create({ file: await file(), model: WHISPER, language: "english" }),
      "invalid_value",
      "language",
    );
    // A field of the gpt-4o models, which Whisper does not take; a field nobody takes is unknown.
    await expectBadRequest(
      client.audio.transcriptions.create({ file: await file(), model: WHISPER, include: ["logprobs"] }),
      "unsupported_value",
      "include[]",
    );
    await expectBadRequest(
      client.audio.transcriptions.create({ file: await file(), model: WHISPER, ...({ diarize: "true" } as object) }),
      "unknown_parameter",
      "diarize",
    );
    const noFile = await fetch(`${stack.host.url}/api/v1/audio/transcriptions`, { method: "POST", body: new FormData() });
    expect(noFile.status).toBe(400);
    const notMultipart = await fetch(`${stack.host.url}/api/v1/audio/translations`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(notMultipart.status).toBe(400);
    expect(await notMultipart.json()).toMatchObject({ error: { code: "invalid_content_type" } });
    expect(await stack.simulator.control.journal({ deployment: WHISPER })).toHaveLength(0);
  });

  it("answers Azure's 429 for a file sent in one request with 429 and Retry-After, after one attempt", async () => {
    await stack.simulator.control.setFaults(WHISPER, [{ kind: 429, ms: 3000, times: 1 }]);
    const error = await client.audio.transcriptions
      .create({ file: await toFile(wav, "meeting.wav"), model: WHISPER })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).headers.get("retry-after")).toBe("3");
    // What is left of the backend's cooldown, Azure's 3000 ms from its 429 (the router's answer when no backend is left).
    expect(Number((error as RateLimitError).headers.get("retry-after-ms"))).toBeGreaterThan(2500);
    expect(Number((error as RateLimitError).headers.get("retry-after-ms"))).toBeLessThanOrEqual(3000);
    expect(await stack.simulator.control.journal({ deployment: WHISPER })).toHaveLength(1);
  });
});

describe("with small limits (HTTP_MAX_AUDIO_BYTES, TRANSCRIPTION_MAX_CHUNK_BYTES)", () => {
  let stack: Stack;
  let client: OpenAI;

  beforeAll(async () => {
    stack = await startStack({
      env: {
        HTTP_AUTH_LEVEL: "anonymous",
        HTTP_MAX_AUDIO_BYTES: "400000",
        TRANSCRIPTION_MAX_CHUNK_BYTES: "65536",
        TRANSCRIPTION_MAX_CONCURRENCY: "2",
      },
      simulator: { latency: NO_LATENCY },
    });
    client = new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(() => stack?.stop());
  beforeEach(() => stack.simulator.control.reset());

  it("refuses an upload over HTTP_MAX_AUDIO_BYTES with 413 in OpenAI's error shape, without calling Azure", async () => {
    const { bytes } = makeWavOfSize(WORD_AND_PAUSE, 450_000);
    const error = await client.audio.transcriptions
      .create({ file: await toFile(bytes, "big.wav"), model: WHISPER })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 413, code: "request_too_large", type: "invalid_request_error", param: "file" });
    expect((error as APIError).message).toContain("HTTP_MAX_AUDIO_BYTES");
    expect(await stack.simulator.control.journal({ deployment: WHISPER })).toHaveLength(0);
    // The connection is still usable: the next request on it is answered.
    const ok = await client.audio.transcriptions.create({
      file: await toFile(makeWav([{ tone: 440, seconds: 1 }]), "a.wav"),
      model: WHISPER,
    });
    expect(ok.text.length).toBeGreaterThan(0);
  });

  it("waits out a throttled chunk of a split file as Retry-After says, and answers the whole transcript", async () => {
    const { bytes, durationInSeconds } = makeWavOfSize(WORD_AND_PAUSE, 300_000); // 5 chunks of ~2 s
    await stack.simulator.control.setFaults(WHISPER, [{ kind: 429, ms: 200, times: 1 }]);
    const verbose = await client.audio.transcriptions.create({
      file: await toFile(bytes, "split.wav"),
      model: WHISPER,
      response_format: "verbose_json",
    });
    expectContinuous(verbose.segments!, durationInSeconds);
    const journal = await stack.simulator.control.journal({ deployment: WHISPER });
    expect(journal.filter((entry) => entry.status === 429)).toHaveLength(1);
    // Every chunk answered once (the plan cuts ~300 KB into 5-6 chunks of at most 64 KiB).
    expect(journal.filter((entry) => entry.status === 200).length).toBe(journal.length - 1);
    expect(journal.length - 1).toBeGreaterThanOrEqual(5);
  });

  it("cancels the chunk requests in flight and starts no more when the caller hangs up", async () => {
    const { bytes } = makeWavOfSize(WORD_AND_PAUSE, 300_000); // 5 chunks
    // One second of processing per second of audio: each ~2 s chunk takes ~2 s upstream.
    await stack.simulator.control.setLatency(WHISPER, { audioRealTimeFactor: 1 });
    const caller = new AbortController();
    const request = client.audio.transcriptions.create(
      { file: await toFile(bytes, "split.wav"), model: WHISPER },
      { signal: caller.signal },
    );
    const failed = request.catch((e: unknown) => e);
    await expect
      .poll(async () => (await stack.simulator.control.counters()).deployments[WHISPER]?.requests ?? 0, { timeout: 10_000 })
      .toBe(2);
    caller.abort();
    expect(await failed).toBeInstanceOf(Error);
    // Both requests in flight end unanswered (the simulator journals a request when it ends: status 0).
    await expect.poll(async () => (await stack.simulator.control.journal({ deployment: WHISPER })).length, { timeout: 5000 }).toBe(2);
    const journal = await stack.simulator.control.journal({ deployment: WHISPER });
    expect(journal.map((entry) => entry.status)).toEqual([0, 0]);
    // They ended well before the ~2 s a chunk takes upstream: cancelled, not finished.
    for (const entry of journal) expect(entry.durationMs).toBeLessThan(1900);
    // Long enough for the remaining chunks to have started had the app carried on.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await stack.simulator.control.counters()).deployments[WHISPER]!.requests).toBe(2);
  }, 30_000);

  // Last in its stack: the app then passes the backend over for the 60 s Azure asked (the router's cooldown).
  it("answers 429 when a chunk stays throttled past the budget, cancelling the other chunks", async () => {
    const { bytes } = makeWavOfSize(WORD_AND_PAUSE, 300_000);
    // Retry-After beyond the 30 s HTTP budget: nothing is waited.
    await stack.simulator.control.setFaults(WHISPER, [{ kind: 429, ms: 60_000 }]);
    const error = await client.audio.transcriptions
      .create({ file: await toFile(bytes, "split.wav"), model: WHISPER })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).headers.get("retry-after")).toBe("60");
    // At most the chunks that were in flight together (concurrency 2), none started after the refusal.
    expect((await stack.simulator.control.journal({ deployment: WHISPER })).length).toBeLessThanOrEqual(2);
  });
});

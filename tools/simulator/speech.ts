/**
 * The speech operation (text to speech, `audio/speech`): checks the request as OpenAI does for the
 * deployment's model (tts: no `instructions`; gpt-4o-mini-tts: `instructions`, SSE) and streams
 * real, decodable audio whose length follows the text in every format (mp3, opus, aac, flac, wav,
 * pcm), with a voiced burst per word and pauses between sentences. Real audio, not noise, so that the app's
 * transcription path can be fed and split with what the simulator itself produced.
 */
import { mp3Header } from "./audio-format.js";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { invalidRequest } from "./errors.js";
import { stringParam } from "./params.js";
import { Random, digest } from "./random.js";
import { adtsAacSilence, oggOpusSilence } from "./silent-audio.js";
import { O200K } from "./tokens.js";

const VOICES = ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"];
const FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"];
/** OpenAI's speech output: 24 kHz, 16-bit, mono. */
export const SPEECH_SAMPLE_RATE = 24_000;
const SECONDS_PER_WORD = 0.4;

/**
 * Speech-like PCM: a voiced burst per word, short gaps between words and longer pauses after
 * sentences, so the audio has quiet stretches where a splitter would cut.
 */
export function synthesize(text: string, speed: number, seed: string): Int16Array {
  const words = text.split(/\s+/).filter(Boolean);
  const rate = SPEECH_SAMPLE_RATE;
  const parts: { samples: number; word?: string }[] = [];
  for (const word of words.length ? words : ["."]) {
    parts.push({ samples: Math.round(((SECONDS_PER_WORD * 0.75) / speed) * rate), word });
    parts.push({ samples: Math.round(((SECONDS_PER_WORD * (/[.!?]$/.test(word) ? 1.5 : 0.25)) / speed) * rate) });
  }
  const total = parts.reduce((sum, part) => sum + part.samples, 0);
  const out = new Int16Array(total);
  let pos = 0;
  for (const part of parts) {
    if (part.word) {
      const random = new Random(`${seed}:${part.word}`);
      const pitchHz = 110 + random.next() * 120;
      for (let i = 0; i < part.samples; i++) {
        const seconds = i / rate;
        const envelope = Math.sin((Math.PI * i) / part.samples);
        const wave =
          Math.sin(2 * Math.PI * pitchHz * seconds) * 0.6 +
          Math.sin(4 * Math.PI * pitchHz * seconds) * 0.25 +
          Math.sin(6 * Math.PI * pitchHz * seconds) * 0.1;
        out[pos + i] = Math.round(wave * envelope * 12000);
      }
    }
    pos += part.samples;
  }
  return out;
}

/** A RIFF/WAVE file around 16-bit PCM. */
export function wavFile(samples: Int16Array, sampleRate: number, channels = 1): Buffer {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8, "latin1");
  header.write("fmt ", 12, "latin1");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "latin1");
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

let mp3Loop: Promise<Buffer[]> | undefined;

/**
 * MP3 frames of a few seconds of speech-like audio, encoded once by lamejs (a dev dependency: the
 * simulator is never deployed). Encoding is slow (~150 ms per second of audio), so answers reuse
 * these frames: the loop's first frame uses no bit reservoir, so repeating the loop stays valid.
 */
function loopFrames(): Promise<Buffer[]> {
  mp3Loop ??= (async () => {
    const specifier = "@breezystack/lamejs";
    const lame = (await import(specifier)) as {
      Mp3Encoder: new (
        channels: number,
        sampleRate: number,
        kbps: number,
      ) => { encodeBuffer(samples: Int16Array): Uint8Array; flush(): Uint8Array };
    };
    const encoder = new lame.Mp3Encoder(1, SPEECH_SAMPLE_RATE, 64);
    const samples = synthesize("The quick brown fox jumps over the lazy dog. A simulated voice reads on.", 1, "mp3-loop");
    const parts: Buffer[] = [];
    for (let i = 0; i < samples.length; i += 576 * 32) parts.push(Buffer.from(encoder.encodeBuffer(samples.subarray(i, i + 576 * 32))));
    parts.push(Buffer.from(encoder.flush()));
    const stream = Buffer.concat(parts);
    const frames: Buffer[] = [];
    for (let pos = 0; pos + 4 <= stream.length;) {
      const header = mp3Header(stream, pos);
      if (!header) break;
      frames.push(stream.subarray(pos, pos + header.length));
      pos += header.length;
    }
    return frames;
  })();
  return mp3Loop;
}

/** An MP3 (MPEG-2 Layer III, 24 kHz, 64 kbps) as long as `sampleCount` samples, to the frame. */
export async function mp3File(sampleCount: number): Promise<Buffer> {
  const frames = await loopFrames();
  const count = Math.max(1, Math.ceil(sampleCount / 576));
  return Buffer.concat(Array.from({ length: count }, (_, i) => frames[i % frames.length]!));
}

function crc8(bytes: Buffer, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function crc16(bytes: Buffer, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc ^= bytes[i]! << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** FLAC with verbatim subframes: valid and lossless, just not compressed. */
export function flacFile(samples: Int16Array, sampleRate: number): Buffer {
  const block = 4096;
  const head = Buffer.alloc(4 + 4 + 34);
  head.write("fLaC", 0, "latin1");
  head[4] = 0x80; // last metadata block, STREAMINFO
  head.writeUIntBE(34, 5, 3);
  const streamInfo = 8;
  head.writeUInt16BE(block, streamInfo);
  head.writeUInt16BE(block, streamInfo + 2);
  // bytes 4-9: min/max frame size unknown (0)
  const total = samples.length;
  head[streamInfo + 10] = (sampleRate >> 12) & 0xff;
  head[streamInfo + 11] = (sampleRate >> 4) & 0xff;
  head[streamInfo + 12] = ((sampleRate & 0x0f) << 4) | (0 << 1) | ((16 - 1) >> 4);
  head[streamInfo + 13] = (((16 - 1) & 0x0f) << 4) | (Math.floor(total / 2 ** 32) & 0x0f);
  head.writeUInt32BE(total >>> 0, streamInfo + 14);
  const frames: Buffer[] = [head];
  for (let frameNumber = 0, start = 0; start < total; frameNumber++, start += block) {
    const count = Math.min(block, total - start);
    const utf8 = Buffer.from(String.fromCodePoint(frameNumber), "utf8");
    const fixed = count === block;
    const frame = Buffer.alloc(4 + utf8.length + (fixed ? 0 : 2) + 1 + 1 + count * 2 + 2);
    let offset = 0;
    frame[offset++] = 0xff;
    frame[offset++] = 0xf8;
    frame[offset++] = ((fixed ? 0b1100 : 0b0111) << 4) | 0b0000; // block size; sample rate from STREAMINFO
    frame[offset++] = (0b0000 << 4) | (0b100 << 1); // mono, 16 bits
    utf8.copy(frame, offset);
    offset += utf8.length;
    if (!fixed) {
      frame.writeUInt16BE(count - 1, offset);
      offset += 2;
    }
    frame[offset] = crc8(frame, 0, offset);
    offset++;
    frame[offset++] = 0x02; // verbatim subframe
    for (let i = 0; i < count; i++, offset += 2) frame.writeInt16BE(samples[start + i]!, offset);
    frame.writeUInt16BE(crc16(frame, 0, offset), offset);
    frames.push(frame);
  }
  return Buffer.concat(frames);
}

/** The older TTS models: no `instructions`, no SSE (OpenAI's spec: "Does not work with tts-1 or tts-1-hd"). */
function isClassicTts(model: string): boolean {
  return /^tts(-1(-hd)?)?($|-)/.test(model);
}

const CONTENT_TYPES: Record<string, string> = {
  mp3: "audio/mpeg",
  opus: "audio/ogg",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
};

/** The audio of `samples` in the requested container. */
async function encode(format: string, samples: Int16Array): Promise<Buffer> {
  switch (format) {
    case "wav":
      return wavFile(samples, SPEECH_SAMPLE_RATE);
    case "pcm":
      return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    case "flac":
      return flacFile(samples, SPEECH_SAMPLE_RATE);
    case "opus":
      return oggOpusSilence(samples.length, SPEECH_SAMPLE_RATE);
    case "aac":
      return adtsAacSilence(samples.length, SPEECH_SAMPLE_RATE);
    default:
      return mp3File(samples.length);
  }
}

/**
 * Validates a speech request (input, voice, format, speed, instructions, stream_format) as OpenAI
 * does for the deployment's model, and answers valid audio whose length follows the text: wav,
 * pcm, flac and mp3 carry the speech-like signal; opus and aac are silent but valid streams of the
 * same length (silent-audio.ts says why). The audio goes out in chunks over the generation time,
 * as Azure streams it (chunked transfer encoding), or as SSE events with `stream_format: "sse"`.
 * @throws SimulatorHttpError 400 in OpenAI's shape.
 */
export function prepareSpeech(body: Record<string, unknown>, deployment: DeploymentConfig, seed: number): Prepared {
  const input = body.input;
  if (typeof input !== "string" || input === "")
    throw invalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
  if (input.length > 4096)
    throw invalidRequest(
      `Invalid 'input': string too long. Expected a string with maximum length 4096, but got a string with length ${input.length} instead.`,
      "input",
      "string_above_max_length",
    );
  const classic = isClassicTts(deployment.model);
  const voices = classic ? VOICES : [...VOICES, "marin", "cedar"];
  const voice = body.voice;
  if (typeof voice !== "string") throw invalidRequest("Missing required parameter: 'voice'.", "voice", "missing_required_parameter");
  if (!voices.includes(voice))
    throw invalidRequest(
      `Invalid value: '${voice}'. Supported values are: ${voices.map((name) => `'${name}'`).join(", ")}.`,
      "voice",
      "invalid_value",
    );
  const format = (body.response_format ?? "mp3") as string;
  if (!FORMATS.includes(format))
    throw invalidRequest(
      `Invalid value: '${format}'. Supported values are: ${FORMATS.map((name) => `'${name}'`).join(", ")}.`,
      "response_format",
      "invalid_value",
    );
  const speed = body.speed === undefined || body.speed === null ? 1 : body.speed;
  if (typeof speed !== "number" || speed < 0.25 || speed > 4)
    throw invalidRequest("Invalid 'speed': expected a number between 0.25 and 4.0.", "speed", "invalid_value");
  const instructions = stringParam(body, "instructions");
  // The exact wording OpenAI uses for instructions sent to tts-1 is not documented; the param and code follow its other 400s.
  if (instructions !== undefined && classic)
    throw invalidRequest(`'instructions' is not supported with the ${deployment.model} model.`, "instructions", "unsupported_parameter");
  if (instructions !== undefined && instructions.length > 4096)
    throw invalidRequest(
      `Invalid 'instructions': string too long. Expected a string with maximum length 4096, but got a string with length ${instructions.length} instead.`,
      "instructions",
      "string_above_max_length",
    );
  const streamFormat = (body.stream_format ?? "audio") as string;
  if (streamFormat !== "audio" && streamFormat !== "sse")
    throw invalidRequest(`Invalid value: '${streamFormat}'. Supported values are: 'sse' and 'audio'.`, "stream_format", "invalid_value");
  if (streamFormat === "sse" && classic)
    throw invalidRequest(`stream_format 'sse' is not supported with the ${deployment.model} model.`, "stream_format", "unsupported_value");

  return {
    chargeTokens: 0,
    stream: streamFormat === "sse",
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(ctx.latency.requestMs) + ctx.faults.delayMs))) return;
      // The instructions colour the voice: here they only change the seed, so the same text sounds different.
      const samples = synthesize(input, speed, digest(seed, voice, instructions ?? ""));
      const audio = await encode(format, samples);
      ctx.recordUsage(input.length, 0);
      const seconds = samples.length / SPEECH_SAMPLE_RATE;
      const generationMs = ctx.sampleMs(seconds * ctx.latency.audioRealTimeFactor * 1000);
      if (streamFormat === "sse") return streamSse(ctx, audio, generationMs, input);
      return streamAudio(ctx, CONTENT_TYPES[format]!, audio, generationMs);
    },
  };
}

/** Audio is cut into pieces of about a quarter second each (2 to 64 pieces). */
function pieces(audio: Buffer, generationMs: number): Buffer[] {
  const count = Math.min(64, Math.max(2, Math.ceil(generationMs / 250), Math.ceil(audio.length / 16_384)));
  const size = Math.ceil(audio.length / count);
  const out: Buffer[] = [];
  for (let pos = 0; pos < audio.length; pos += size) out.push(audio.subarray(pos, pos + size));
  return out;
}

/**
 * Writes the audio as it is "generated": headers and the first piece at once, the rest spread over
 * `generationMs`, without a content-length (chunked). The `drop` fault cuts the connection halfway.
 */
async function streamAudio(ctx: RequestContext, contentType: string, audio: Buffer, generationMs: number): Promise<void> {
  const parts = pieces(audio, generationMs);
  ctx.entry.status = 200;
  ctx.res.writeHead(200, { ...ctx.headers, "content-type": contentType, "transfer-encoding": "chunked" });
  for (const [i, part] of parts.entries()) {
    if (i > 0 && !(await ctx.sleep(generationMs / (parts.length - 1)))) return;
    if (ctx.faults.dropAfterTokens !== undefined && i >= parts.length / 2) return ctx.dropConnection();
    ctx.res.write(part);
  }
  ctx.res.end();
}

/** `stream_format: "sse"`: `speech.audio.delta` events with base64 audio, then `speech.audio.done` with the usage. */
async function streamSse(ctx: RequestContext, audio: Buffer, generationMs: number, input: string): Promise<void> {
  const parts = pieces(audio, generationMs);
  ctx.entry.status = 200;
  ctx.counters.streams++;
  ctx.res.writeHead(200, { ...ctx.headers, "content-type": "text/event-stream", "cache-control": "no-cache" });
  const send = (event: unknown) => ctx.res.write(`data: ${JSON.stringify(event)}\n\n`);
  for (const [i, part] of parts.entries()) {
    if (i > 0 && !(await ctx.sleep(generationMs / (parts.length - 1)))) return;
    if (ctx.faults.dropAfterTokens !== undefined && i >= parts.length / 2) return ctx.dropConnection();
    send({ type: "speech.audio.delta", audio: part.toString("base64") });
  }
  const inputTokens = O200K.count(input);
  // About 12.5 audio tokens a second of speech, in line with OpenAI's audio models.
  const outputTokens = Math.ceil((audio.length / (SPEECH_SAMPLE_RATE * 2)) * 12.5);
  send({
    type: "speech.audio.done",
    usage: { input_tokens: inputTokens, output_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
  });
  ctx.res.end();
}

import { AzureOpenAI, OpenAI } from "openai";
import { NO_LATENCY, start, type Simulator, type SimulatorOptions } from "../../tools/simulator/index.js";

export const API_VERSION = "2024-10-21";

/** A simulator that answers at once; tests set latency explicitly where they measure it. */
export function startFast(options: SimulatorOptions = {}): Promise<Simulator> {
  return start({ latency: NO_LATENCY, ...options });
}

/** The dated API with key auth, as the app's `dated` style uses it. */
export function azureClient(sim: Simulator, options: { deployment?: string; maxRetries?: number; apiKey?: string } = {}): AzureOpenAI {
  return new AzureOpenAI({
    endpoint: sim.url,
    apiVersion: API_VERSION,
    apiKey: options.apiKey ?? sim.apiKey,
    maxRetries: options.maxRetries ?? 2,
    ...(options.deployment ? { deployment: options.deployment } : {}),
  });
}

/** The v1 API with the plain OpenAI client: key sent as a Bearer token. */
export function v1Client(sim: Simulator, options: { maxRetries?: number; apiKey?: string } = {}): OpenAI {
  return new OpenAI({ baseURL: `${sim.url}/openai/v1/`, apiKey: options.apiKey ?? sim.apiKey, maxRetries: options.maxRetries ?? 2 });
}

/** Reads a raw SSE body into its `data:` payloads, keeping the exact framing checks to the caller. */
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  expectFraming(text);
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ""));
}

function expectFraming(text: string): void {
  if (!text.endsWith("data: [DONE]\n\n")) throw new Error(`stream does not end with [DONE]: ${text.slice(-80)}`);
  for (const event of text.split("\n\n").filter(Boolean))
    if (!/^data: [^\n]+$/.test(event)) throw new Error(`malformed SSE event: ${JSON.stringify(event)}`);
}

/** A 16-bit mono PCM WAV of `seconds` of a quiet tone. */
export function wav(seconds: number, sampleRate = 16000): Buffer {
  const n = Math.round(seconds * sampleRate);
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = Math.round(Math.sin((2 * Math.PI * 220 * i) / sampleRate) * 3000);
  const data = Buffer.from(samples.buffer);
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(36 + data.length, 4);
  h.write("WAVE", 8, "latin1");
  h.write("fmt ", 12, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** An MP3 of `seconds` encoded by lamejs (a real encoder, so frames are real). */
export async function mp3(seconds: number, sampleRate = 44100, kbps = 128): Promise<Buffer> {
  const { Mp3Encoder } = await import("@breezystack/lamejs");
  const enc = new Mp3Encoder(1, sampleRate, kbps);
  const n = Math.round(seconds * sampleRate);
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = Math.round(Math.sin((2 * Math.PI * 330 * i) / sampleRate) * 3000);
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i += 1152 * 20) parts.push(Buffer.from(enc.encodeBuffer(samples.subarray(i, i + 1152 * 20))));
  parts.push(Buffer.from(enc.flush()));
  return Buffer.concat(parts);
}

/** For `promise.then(unexpected, (e) => e as X)`: a call that should have failed did not. */
export function unexpected(): never {
  throw new Error("expected the call to fail, but it succeeded");
}

/** One Responses API stream event, with the fields every event has. */
export interface TypedEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

/** Reads a Responses API SSE body: every event an `event: <type>` line and a `data: <json>` line whose `type` repeats it. */
export async function readTypedSse(res: Response): Promise<TypedEvent[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((block) => {
      const framed = block.match(/^event: ([^\n]+)\ndata: ([^\n]+)$/);
      if (!framed) throw new Error(`malformed SSE event: ${JSON.stringify(block)}`);
      const data = JSON.parse(framed[2]!) as TypedEvent;
      if (data.type !== framed[1]) throw new Error(`event line '${framed[1]}' but data type '${data.type}'`);
      return data;
    });
}

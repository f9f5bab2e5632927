/**
 * Transcription over a model with backends on two simulated resources, through the real app in the
 * local host (run `npm run build` first): a blob's chunks spread over both backends and stitch into
 * one complete, ordered transcript; a backend in a 429 storm hands its chunks to the other; blob
 * metadata `model` picks the model, an unknown one fails the blob with a clear reason; the HTTP
 * endpoint routes its chunks the same way and names the backends in `x-backend`.
 */
import type { ContainerClient } from "@azure/storage-blob";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_LATENCY, type SimulatorResource } from "../../tools/simulator/index.js";
import { makeWav } from "../support/audio/wav.js";
import { tableAcross } from "../support/routing-table.js";
import { startStack, type Stack } from "../support/stack.js";

const PRIMARY = "primary/whisper";
const SECOND = "second/whisper";
/** 60 s of 16 kHz mono WAV (1.9 MB) in chunks of at most 128 KiB: 15 chunks. */
const SECONDS = 60;
const MAX_CHUNK_BYTES = 128 * 1024;

interface TranscriptJson {
  duration: number;
  segments: Array<{ start: number; end: number; text: string }>;
  options: { model?: string };
  usage: { audioSeconds: number; requests: number; model: string; backends: string[] };
  source: { chunks: number };
}

interface StatusBody {
  state: string;
  error?: { kind: string; code?: string; message: string; willRetry: boolean };
  usage?: TranscriptJson["usage"];
}

let stack: Stack;
let second: SimulatorResource;
let audio: ContainerClient;
let transcripts: ContainerClient;

beforeAll(async () => {
  stack = await startStack({
    env: { HTTP_AUTH_LEVEL: "anonymous", TRANSCRIPTION_MAX_CHUNK_BYTES: String(MAX_CHUNK_BYTES) },
    simulator: { latency: NO_LATENCY, journalBodies: false, resources: [{ name: "second" }] },
    envFromSimulator: (simulator) => ({
      AZURE_OPENAI_DEPLOYMENTS: tableAcross(
        [
          { name: "primary", url: simulator.url },
          { name: "second", url: simulator.resources[0]!.url },
        ],
        {
          whisper: { deployment: "whisper", capabilities: ["transcription"] },
          // A model of its own, served only by the second resource.
          "whisper-second": { deployment: "whisper", capabilities: ["transcription"], on: [1] },
        },
      ),
    }),
  });
  second = stack.simulator.resources[0]!;
  audio = stack.blobService.getContainerClient("audio");
  transcripts = stack.blobService.getContainerClient("transcripts");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function whisperRequests(resource: Pick<SimulatorResource, "control">): Promise<number> {
  return (await resource.control.counters()).deployments.whisper?.requests ?? 0;
}

async function waitForFinal(name: string, timeoutMs = 60_000): Promise<StatusBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${stack.host.url}/api/transcriptions/${name}`);
    const body = (await response.json()) as StatusBody;
    if (response.status === 200 && (body.state === "succeeded" || body.state === "failed")) return body;
    if (Date.now() > deadline) throw new Error(`${name} did not finish in ${timeoutMs} ms; last status ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function transcribe(name: string, metadata: Record<string, string> = {}): Promise<{ status: StatusBody; json?: TranscriptJson }> {
  await audio.getBlockBlobClient(name).uploadData(makeWav([{ tone: 440, seconds: SECONDS }]), { metadata });
  const status = await waitForFinal(name);
  if (status.state !== "succeeded") return { status };
  const json = JSON.parse((await transcripts.getBlobClient(`${name}.json`).downloadToBuffer()).toString("utf8")) as TranscriptJson;
  return { status, json };
}

/** The transcript covers [0, duration] with segments in order, none overlapping. */
function expectCompleteAndOrdered(json: TranscriptJson): void {
  expect(json.duration).toBeCloseTo(SECONDS, 3);
  expect(json.segments[0]!.start).toBe(0);
  expect(json.segments.at(-1)!.end).toBeCloseTo(SECONDS, 1);
  for (let i = 1; i < json.segments.length; i++) {
    expect(json.segments[i]!.start).toBeGreaterThanOrEqual(json.segments[i - 1]!.end - 0.001);
    expect(json.segments[i]!.text.trim()).not.toBe("");
  }
}

describe("blob transcription across the backends of a model", () => {
  it("spreads a file's chunks over both backends and stitches a complete, ordered transcript", async () => {
    const [primaryBefore, secondBefore] = [await whisperRequests(stack.simulator), await whisperRequests(second)];
    const { status, json } = await transcribe("spread.wav");
    expect(status.state).toBe("succeeded");
    expect(json!.source.chunks).toBeGreaterThanOrEqual(14);
    expect(json!.usage).toMatchObject({ requests: json!.source.chunks, model: "whisper" });
    expect([...json!.usage.backends].sort()).toEqual([PRIMARY, SECOND]);
    const sent = (await whisperRequests(stack.simulator)) - primaryBefore + ((await whisperRequests(second)) - secondBefore);
    expect(sent).toBe(json!.source.chunks);
    expect((await whisperRequests(stack.simulator)) - primaryBefore).toBeGreaterThan(0);
    expect((await whisperRequests(second)) - secondBefore).toBeGreaterThan(0);
    expectCompleteAndOrdered(json!);
  }, 90_000);

  it("sends every chunk of a blob whose metadata names a model to that model's backends", async () => {
    const primaryBefore = await whisperRequests(stack.simulator);
    const { status, json } = await transcribe("named.wav", { model: "whisper-second" });
    expect(status.state).toBe("succeeded");
    expect(json!.options.model).toBe("whisper-second");
    expect(json!.usage).toMatchObject({ model: "whisper-second", backends: [SECOND] });
    expect(await whisperRequests(stack.simulator)).toBe(primaryBefore);
  }, 90_000);

  it("fails a blob naming a model that does not transcribe, with the reason and the models to use, calling nothing", async () => {
    const [primaryBefore, secondBefore] = [await whisperRequests(stack.simulator), await whisperRequests(second)];
    const { status } = await transcribe("unknown-model.wav", { model: "gpt-4o-mini" });
    expect(status).toMatchObject({ state: "failed", error: { kind: "bad_input", code: "invalid_options", willRetry: false } });
    expect(status.error!.message).toMatch(/model "gpt-4o-mini" is not a model that transcribes here; use "whisper" or "whisper-second"/);
    expect([await whisperRequests(stack.simulator), await whisperRequests(second)]).toEqual([primaryBefore, secondBefore]);
  }, 60_000);
});

describe("HTTP transcription across the backends of a model", () => {
  const client = () => new OpenAI({ baseURL: `${stack.host.url}/api/v1`, apiKey: "unused-locally", maxRetries: 0 });

  it("routes a split upload's chunks over both backends and names them in x-backend", async () => {
    const { data, response } = await client()
      .audio.transcriptions.create({
        file: await toFile(makeWav([{ tone: 440, seconds: SECONDS }]), "long.wav"),
        model: "whisper",
        response_format: "verbose_json",
      })
      .withResponse();
    expect(data.duration).toBeCloseTo(SECONDS, 3);
    expect(response.headers.get("x-backend")?.split(", ").sort()).toEqual([PRIMARY, SECOND]);
  }, 60_000);

  it("sends a request naming a model to that model's backend, and refuses a model that does not transcribe", async () => {
    const { response } = await client()
      .audio.transcriptions.create({ file: await toFile(makeWav([{ tone: 440, seconds: 2 }]), "short.wav"), model: "whisper-second" })
      .withResponse();
    expect(response.headers.get("x-backend")).toBe(SECOND);
    const refused = await client()
      .audio.transcriptions.create({ file: await toFile(makeWav([{ tone: 440, seconds: 2 }]), "short.wav"), model: "gpt-4o-mini" })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400, code: "model_not_found", param: "model" });
  }, 60_000);
});

// Last: the storm leaves the primary cooling down in the app for the 20 s Azure asked.
describe("a backend in a 429 storm", () => {
  it("moves the chunks of a backend in a 429 storm to the other, within the run", async () => {
    await stack.simulator.control.setFaults("whisper", [{ kind: 429, periodMs: 60_000, activeMs: 60_000, ms: 20_000 }]);
    try {
      const started = Date.now();
      const { status, json } = await transcribe("storm.wav");
      expect(status.state).toBe("succeeded");
      expect(Date.now() - started).toBeLessThan(20_000); // never waited out the throttled backend's 20 s
      expect(json!.usage.backends).toEqual([SECOND]);
      expect((await stack.simulator.control.counters()).deployments.whisper!.throttled).toBeGreaterThan(0);
      expectCompleteAndOrdered(json!);
    } finally {
      await stack.simulator.control.setFaults("whisper", []);
    }
  }, 90_000);
});

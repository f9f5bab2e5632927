/**
 * The blob pipeline's items and audio minutes, end to end: audio dropped into the `audio`
 * container of the app on the local host (Azurite, the simulator's Whisper), read back through
 * GET /api/usage as `npm run send -- usage` reads it; the gpt-4o transcribe models bill tokens
 * (their answers' `usage.type` is "tokens"), which are counted as the call's prompt and completion tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UsageSnapshot } from "../../src/metrics/index.js";
import { readStatus } from "../../src/transcription/status.js";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { fetchUsage } from "../../tools/send/commands.js";
import { makeWav } from "../support/audio/wav.js";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    env: { AZURE_OPENAI_TRANSCRIPTION_MODELS: "gpt-4o-mini-transcribe" },
    simulator: { latency: NO_LATENCY },
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

async function finalState(name: string): Promise<string> {
  const transcripts = stack.blobService.getContainerClient("transcripts");
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
    const status = await readStatus(transcripts, name).catch(() => undefined);
    if (status && (status.state === "succeeded" || status.state === "failed")) return status.state;
  }
  throw new Error(`${name} never finished`);
}

describe("transcription pipeline metrics", () => {
  it("counts a transcribed blob as processed with its audio minutes, and audio that is not audio as rejected", async () => {
    const audio = stack.blobService.getContainerClient("audio");
    await audio.createIfNotExists();
    await audio.getBlockBlobClient("metrics/good.wav").uploadData(makeWav([{ tone: 440, seconds: 6 }]));
    await audio.getBlockBlobClient("metrics/not-audio.wav").uploadData(Buffer.from("this is a text file, not a WAV".repeat(40)));
    expect(await finalState("metrics/good.wav")).toBe("succeeded");
    expect(await finalState("metrics/not-audio.wav")).toBe("failed");

    let usage: UsageSnapshot | undefined;
    for (let tries = 0; tries < 50; tries++) {
      usage = await fetchUsage(stack.host.url, undefined);
      if (usage.pipelines.length >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(usage!.pipelines.sort((a, b) => a.outcome.localeCompare(b.outcome))).toEqual([
      { pipeline: "transcription", outcome: "processed", count: 1 },
      { pipeline: "transcription", outcome: "rejected", count: 1 },
    ]);
    const whisper = usage!.totals.find((total) => total.model === "whisper");
    expect(whisper).toMatchObject({ caller: "pipeline:transcription", requests: 1, failed: 0 });
    expect(whisper!.audioMinutes).toBeCloseTo(6 / 60, 3);
  });

  it("counts the tokens a gpt-4o transcribe model billed as the call's prompt and completion tokens", async () => {
    const started = new Date().toISOString();
    const audio = stack.blobService.getContainerClient("audio");
    await audio.createIfNotExists();
    await audio
      .getBlockBlobClient("metrics/tokens.wav")
      .uploadData(makeWav([{ tone: 440, seconds: 6 }]), { metadata: { model: "gpt-4o-mini-transcribe" } });
    expect(await finalState("metrics/tokens.wav")).toBe("succeeded");

    const [call] = (await stack.simulator.control.journal()).filter(
      (e) => e.time >= started && e.deployment === "gpt-4o-mini-transcribe" && e.status === 200,
    );
    // The simulator answers 10 audio tokens a second plus the prompt's tokens in, the text's tokens out.
    const inputTokens = 6 * 10 + call!.usage!.prompt_tokens;
    let total;
    for (let tries = 0; tries < 50 && !total; tries++) {
      total = (await fetchUsage(stack.host.url, undefined)).totals.find((t) => t.model === "gpt-4o-mini-transcribe");
      if (!total) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(total).toMatchObject({ caller: "pipeline:transcription", requests: 1, failed: 0 });
    expect(total!.tokens).toEqual({ prompt: inputTokens, completion: call!.usage!.completion_tokens, cached: 0, reasoning: 0 });
    expect(total!.tokens.completion).toBeGreaterThan(0);
    // The audio still counts in minutes too (its duration: these models report no seconds).
    expect(total!.audioMinutes).toBeCloseTo(6 / 60, 3);
  });
});

/**
 * The speech and images queues over models with backends on two simulated resources, through the
 * real app in the local host (run `npm run build` first): a backend failing (5xx) or throttling
 * (429) hands its calls to the other within the delivery; a message naming a model goes to that
 * model's backends; a message naming a model that does not serve the pipeline gets a clear record.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImagesRecord } from "../../src/images/images-store.js";
import type { JobErrorRecord } from "../../src/queue-jobs/job-store.js";
import type { SpeechRecord } from "../../src/speech/speech-store.js";
import { NO_LATENCY, type SimulatorResource } from "../../tools/simulator/index.js";
import { hostJsonWith, readJsonBlob, sendJson, waitFor } from "../support/queue-jobs.js";
import { tableAcross } from "../support/routing-table.js";
import { startStack, type Stack } from "../support/stack.js";

const TTS = "gpt-4o-mini-tts";
const IMAGES = "gpt-image-1";

let stack: Stack;
let second: SimulatorResource;
let speech: { container: ContainerClient; queue: QueueClient };
let images: { container: ContainerClient; queue: QueueClient };

beforeAll(async () => {
  stack = await startStack({
    hostJson: hostJsonWith({ visibilityTimeout: "00:00:01", maxPollingInterval: "00:00:00.200", maxDequeueCount: 3 }),
    simulator: { latency: NO_LATENCY, journalBodies: false, resources: [{ name: "second" }] },
    envFromSimulator: (simulator) => ({
      AZURE_OPENAI_DEPLOYMENTS: tableAcross(
        [
          { name: "primary", url: simulator.url },
          { name: "second", url: simulator.resources[0]!.url },
        ],
        {
          [TTS]: { deployment: TTS, capabilities: ["speech"] },
          // Models of their own, served only by the second resource.
          "tts-second": { deployment: "tts", capabilities: ["speech"], on: [1] },
          [IMAGES]: { deployment: IMAGES, capabilities: ["images"] },
        },
      ),
    }),
  });
  second = stack.simulator.resources[0]!;
  speech = { container: stack.blobService.getContainerClient("speech"), queue: stack.queueService.getQueueClient("speech") };
  images = { container: stack.blobService.getContainerClient("images"), queue: stack.queueService.getQueueClient("images") };
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function requests(resource: Pick<SimulatorResource, "control">, deployment: string): Promise<number> {
  return (await resource.control.counters()).deployments[deployment]?.requests ?? 0;
}

const waitForJson = <T>(container: ContainerClient, name: string) => waitFor(name, () => readJsonBlob<T>(container, name), 60_000);

/** Sentences, about `characters` long: over 4096 makes several parts. */
function text(characters: number): string {
  let out = "";
  for (let i = 0; out.length < characters; i++) out += `Sentence ${i} tells of quiet things in the old town by the river. `;
  return out.trim();
}

describe("speech queue across the backends of a model", () => {
  it("speaks every part on the other backend while one fails with 5xx, within the first delivery", async () => {
    await stack.simulator.control.setFaults(TTS, [{ kind: 500 }]);
    try {
      await sendJson(speech.queue, { id: "failover", input: text(9000), voice: "alloy" });
      const record = await waitForJson<SpeechRecord>(speech.container, "failover.json");
      expect(record.parts.length).toBeGreaterThanOrEqual(3);
      expect(record).toMatchObject({ model: TTS, deployment: TTS });
      expect(record.parts.every((part) => part.backend === `second/${TTS}`)).toBe(true);
      expect(await requests(second, TTS)).toBe(record.parts.length);
      expect(await readJsonBlob<JobErrorRecord>(speech.container, "failover.error.json")).toBeUndefined();
    } finally {
      await stack.simulator.control.setFaults(TTS, []);
    }
  }, 90_000);

  it("sends a message naming a model to that model's backend", async () => {
    const before = await requests(stack.simulator, "tts");
    await sendJson(speech.queue, { id: "named", input: "Hello from the second resource.", voice: "alloy", model: "tts-second" });
    const record = await waitForJson<SpeechRecord>(speech.container, "named.json");
    expect(record).toMatchObject({ model: "tts-second", deployment: "tts", parts: [{ backend: "second/tts" }] });
    expect(await requests(stack.simulator, "tts")).toBe(before);
    expect(await requests(second, "tts")).toBe(1);
  }, 60_000);

  it("rejects a message naming a model that does not serve speech, naming the models that do", async () => {
    await sendJson(speech.queue, { id: "unknown-model", input: "Hello.", voice: "alloy", model: IMAGES });
    const record = await waitForJson<JobErrorRecord>(speech.container, "unknown-model.error.json");
    expect(record).toMatchObject({ status: "rejected", kind: "bad_input", code: "model_not_found", model: IMAGES, dequeueCount: 1 });
    expect(record.reason).toMatch(/'gpt-image-1' does not serve speech; use 'gpt-4o-mini-tts' or 'tts-second'/);
  }, 60_000);
});

describe("images queue across the backends of a model", () => {
  it("generates on the other backend while one throttles (429), without waiting out its delay", async () => {
    await stack.simulator.control.setFaults(IMAGES, [{ kind: 429, ms: 30_000 }]);
    try {
      const started = Date.now();
      // Two messages: whichever backend each tries first, the throttled one hands it to the other.
      await Promise.all(["storm-1", "storm-2"].map((id) => sendJson(images.queue, { id, prompt: "a red fox in the snow" })));
      for (const id of ["storm-1", "storm-2"]) {
        const record = await waitForJson<ImagesRecord>(images.container, `${id}.json`);
        expect(record).toMatchObject({ model: IMAGES, deployment: IMAGES, backend: `second/${IMAGES}` });
      }
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await stack.simulator.control.setFaults(IMAGES, []);
    }
  }, 60_000);

  it("rejects a message naming a model that does not generate images", async () => {
    await sendJson(images.queue, { id: "unknown-model", prompt: "a fox", model: "no-such-model" });
    const record = await waitForJson<JobErrorRecord>(images.container, "unknown-model.error.json");
    expect(record).toMatchObject({
      status: "rejected",
      kind: "bad_input",
      code: "model_not_found",
      param: "model",
      model: "no-such-model",
    });
    expect(record.reason).toMatch(/'no-such-model' does not exist here; use 'gpt-image-1'/);
  }, 60_000);
});

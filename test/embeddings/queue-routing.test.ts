/**
 * The embeddings queue over a model with backends on two simulated resources, through the real app
 * in the local host (run `npm run build` first): messages spread over both backends; a 429 storm
 * on one moves the work to the other with nothing poisoned, handed back or lost; a message naming
 * a model goes to that model's backends; a message naming no such model gets a clear record.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddingsErrorRecord, EmbeddingsOutput } from "../../src/embeddings/result-store.js";
import { NO_LATENCY, type SimulatorResource } from "../../tools/simulator/index.js";
import { blobNames, hostJsonWith, readJsonBlob, sendJson, waitFor } from "../support/queue-jobs.js";
import { tableAcross } from "../support/routing-table.js";
import { startStack, type Stack } from "../support/stack.js";

const DEPLOYMENT = "text-embedding-3-small";
const PRIMARY = `primary/${DEPLOYMENT}`;
const SECOND = `second/${DEPLOYMENT}`;

let stack: Stack;
let second: SimulatorResource;
let container: ContainerClient;
let queue: QueueClient;
let poison: QueueClient;

beforeAll(async () => {
  stack = await startStack({
    hostJson: hostJsonWith({ batchSize: 32, newBatchThreshold: 16, visibilityTimeout: "00:00:01", maxPollingInterval: "00:00:00.200" }),
    simulator: { latency: NO_LATENCY, journalBodies: false, resources: [{ name: "second" }] },
    // Small requests, so a few dozen messages make enough of them to see where they go.
    env: { EMBEDDINGS_MAX_INPUTS_PER_REQUEST: "4", EMBEDDINGS_MAX_WAIT_MS: "20" },
    envFromSimulator: (simulator) => ({
      AZURE_OPENAI_DEPLOYMENTS: tableAcross(
        [
          { name: "primary", url: simulator.url },
          { name: "second", url: simulator.resources[0]!.url },
        ],
        {
          [DEPLOYMENT]: { deployment: DEPLOYMENT, capabilities: ["embeddings"] },
          // A model of its own, served only by the second resource.
          "embed-second": { deployment: DEPLOYMENT, capabilities: ["embeddings"], on: [1] },
        },
      ),
    }),
  });
  second = stack.simulator.resources[0]!;
  container = stack.blobService.getContainerClient("embeddings");
  queue = stack.queueService.getQueueClient("embeddings");
  poison = stack.queueService.getQueueClient("embeddings-poison");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** Sends `count` messages with ids `{prefix}-{i}` and waits for all their outputs. */
async function embedAll(prefix: string, count: number, extra: Record<string, unknown> = {}): Promise<EmbeddingsOutput[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, "0")}`);
  await Promise.all(ids.map((id, i) => sendJson(queue, { id, input: `text ${i} of ${prefix}`, ...extra })));
  const outputsDone = async () => (await blobNames(container, `${prefix}-`)).filter((name) => !name.endsWith(".error.json")).length;
  await waitFor(`${count} outputs of ${prefix}`, async () => ((await outputsDone()) >= count ? true : undefined));
  return Promise.all(ids.map(async (id) => (await readJsonBlob<EmbeddingsOutput>(container, `${id}.json`))!));
}

async function requests(resource: Pick<SimulatorResource, "control">): Promise<number> {
  return (await resource.control.counters()).deployments[DEPLOYMENT]?.requests ?? 0;
}

describe("embeddings queue across the backends of a model", () => {
  it("spreads messages over both backends; each output names the model and the backend that served it", async () => {
    const outputs = await embedAll("spread", 48);
    expect(await requests(stack.simulator)).toBeGreaterThan(0);
    expect(await requests(second)).toBeGreaterThan(0);
    const served = new Set(outputs.flatMap((output) => output.routing.backends));
    expect([...served].sort()).toEqual([PRIMARY, SECOND]);
    for (const output of outputs) {
      expect(output).toMatchObject({ model: DEPLOYMENT, deployment: DEPLOYMENT, routing: { model: DEPLOYMENT } });
      expect(output.items[0]!.embedding).toHaveLength(1536);
    }
  }, 90_000);

  it("moves the work off a backend in a 429 storm: every message embedded by the other, none poisoned or handed back", async () => {
    await stack.simulator.control.setFaults(DEPLOYMENT, [{ kind: 429, periodMs: 60_000, activeMs: 60_000, ms: 2000 }]);
    try {
      const before = await requests(second);
      const outputs = await embedAll("storm", 48);
      expect(outputs.every((output) => output.routing.backends.length === 1 && output.routing.backends[0] === SECOND)).toBe(true);
      expect(await requests(second)).toBeGreaterThan(before);
      expect((await stack.simulator.control.counters()).deployments[DEPLOYMENT]!.throttled).toBeGreaterThan(0);
      // Nothing waited past its budget (no `retrying` record, no hand-back), nothing poisoned.
      expect((await blobNames(container, "storm-")).filter((name) => name.endsWith(".error.json"))).toEqual([]);
      expect((await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems).toEqual([]);
    } finally {
      await stack.simulator.control.setFaults(DEPLOYMENT, []);
    }
  }, 90_000);

  it("sends a message naming a model to that model's backends only", async () => {
    const primaryBefore = await requests(stack.simulator);
    const secondBefore = await requests(second);
    const [output] = await embedAll("named", 1, { model: "embed-second" });
    expect(output).toMatchObject({ routing: { model: "embed-second", backends: ["second/text-embedding-3-small"] } });
    expect(await requests(stack.simulator)).toBe(primaryBefore);
    expect(await requests(second)).toBe(secondBefore + 1);
  }, 60_000);

  it("rejects a message naming a model that does not serve embeddings, with a record naming the models that do", async () => {
    const primaryBefore = await requests(stack.simulator);
    await sendJson(queue, { id: "unknown-model", input: "x", model: "gpt-4o-mini" });
    const record = await waitFor("the error record", () => readJsonBlob<EmbeddingsErrorRecord>(container, "unknown-model.error.json"));
    expect(record).toMatchObject({
      id: "unknown-model",
      status: "rejected",
      kind: "bad_input",
      code: "model_not_found",
      param: "model",
      model: "gpt-4o-mini",
      dequeueCount: 1,
    });
    expect(record.reason).toMatch(/'gpt-4o-mini' does not serve embeddings; use 'text-embedding-3-small' or 'embed-second'/);
    expect(await requests(stack.simulator)).toBe(primaryBefore);
  }, 60_000);
});

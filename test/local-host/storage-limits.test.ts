import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { startHost, type LocalHost } from "../../tools/local-host/index.js";
import { base64, clients, eventually, readEvidence, storageFixture } from "./storage-helpers.js";

/** host.json overrides: retry delay (visibilityTimeout), maxDequeueCount and blob parallelism. */
describe("local host: host.json overrides for queues and blobs", () => {
  let azurite: Azurite;
  let host: LocalHost;
  let store: ReturnType<typeof clients>;

  beforeAll(async () => {
    azurite = await startAzurite();
    store = clients(azurite.connectionString);
    host = await startHost({
      entry: "index.mjs",
      cwd: storageFixture,
      hostJson: path.join(storageFixture, "host.limits.json"),
      port: 0,
      env: { AzureWebJobsStorage: azurite.connectionString },
      blobScanIntervalMs: 300,
    });
  });
  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it("waits visibilityTimeout between attempts and poisons at maxDequeueCount", async () => {
    const text = base64(JSON.stringify({ fail: true, marker: "limits" }));
    const { messageId } = await store.queues.getQueueClient("work").sendMessage(text);
    await eventually(
      "the poison message",
      async () => {
        const poison = store.queues.getQueueClient("work-poison");
        if (!(await poison.exists())) return undefined;
        const peeked = await poison.peekMessages({ numberOfMessages: 32 });
        return peeked.peekedMessageItems.some((m) => m.messageText === text) ? true : undefined;
      },
      15_000,
    );
    const attempts = (await readEvidence(store.evidence, `queue/${messageId}/`)).sort((a, b) => a.value.at - b.value.at);
    expect(attempts.map((a) => a.value.triggerMetadata.dequeueCount)).toEqual([1, 2, 3]);
    for (let i = 1; i < attempts.length; i++) {
      expect(attempts[i]!.value.at - attempts[i - 1]!.value.at).toBeGreaterThanOrEqual(900);
    }
  });

  it("runs at most maxDegreeOfParallelism blob invocations at once", async () => {
    const container = store.blobs.getContainerClient("audio");
    await container.createIfNotExists();
    for (let i = 0; i < 6; i++) await container.getBlockBlobClient(`slow/${i}.wav`).upload("x", 1);
    const runs = await eventually(
      "all six slow blobs",
      async () => {
        const found = await readEvidence(store.evidence, "slow/slow/");
        return found.length === 6 ? found.map((f) => f.value as { startedAt: number; endedAt: number }) : undefined;
      },
      20_000,
    );
    const maxOverlap = Math.max(
      ...runs.map((run) => runs.filter((o) => o.startedAt < run.endedAt && o.endedAt > run.startedAt && o !== run).length + 1),
    );
    expect(maxOverlap).toBeLessThanOrEqual(2);
    expect(maxOverlap).toBeGreaterThanOrEqual(2); // they did run in parallel
  });
});

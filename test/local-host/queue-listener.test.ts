/**
 * QueueListener against Azurite: a message whose lease is being renewed when its run ends is
 * still settled with the popReceipt the renewal returned (a stale one would leave it on the queue).
 */
import type { DequeuedMessageItem, QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { QueueListener } from "../../tools/local-host/queue-listener.js";
import { clients } from "./storage-helpers.js";

let azurite: Azurite;
let queue: QueueClient;

beforeAll(async () => {
  azurite = await startAzurite();
  queue = clients(azurite.connectionString).queues.getQueueClient("listener-test");
  await queue.createIfNotExists();
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});

describe("QueueListener", () => {
  it("settles a message with the renewed popReceipt when its run ends while a renewal is in flight", async () => {
    await queue.sendMessage("slow work");
    const logs: string[] = [];
    // The real queue, with renewals whose answers take 400 ms longer to come back: storage has
    // already changed the popReceipt when the run ends.
    const slowRenewals = new Proxy(queue, {
      get(target, property) {
        if (property !== "updateMessage") return Reflect.get(target, property) as unknown;
        return async (...args: Parameters<QueueClient["updateMessage"]>) => {
          const answer = await target.updateMessage(...args);
          await new Promise((resolve) => setTimeout(resolve, 400));
          return answer;
        };
      },
    });
    const processed: DequeuedMessageItem[] = [];
    const listener = new QueueListener({
      queue: slowRenewals,
      batchSize: 1,
      newBatchThreshold: 0,
      maxPollingIntervalMs: 100,
      retryVisibilityMs: 0,
      maxDequeueCount: 5,
      // Renewed every 500 ms: the run ends at 600 ms, while the first renewal is still out.
      leaseSeconds: 1,
      process: async (message) => {
        processed.push(message);
        await new Promise((resolve) => setTimeout(resolve, 600));
      },
      poison: async () => undefined,
      log: (line) => logs.push(line),
    });
    listener.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await queue.getProperties()).approximateMessagesCount !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await listener.stop();
    }
    expect(logs).toEqual([]);
    expect(processed).toHaveLength(1);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
  });
});

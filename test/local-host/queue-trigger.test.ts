import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueClient } from "@azure/storage-queue";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { startHost, type LocalHost } from "../../tools/local-host/index.js";
import { base64, clients, eventually, readEvidence, storageFixture } from "./storage-helpers.js";

describe("local host: queue triggers (asserted on Azurite)", () => {
  let azurite: Azurite;
  let host: LocalHost;
  let store: ReturnType<typeof clients>;
  let work: QueueClient;
  let poison: QueueClient;

  const start = (leaseSeconds = 600) =>
    startHost({
      entry: "index.mjs",
      cwd: storageFixture,
      port: 0,
      env: { AzureWebJobsStorage: azurite.connectionString },
      leaseSeconds,
      blobScanIntervalMs: 500,
    });

  beforeAll(async () => {
    azurite = await startAzurite();
    store = clients(azurite.connectionString);
    work = store.queues.getQueueClient("work");
    poison = store.queues.getQueueClient("work-poison");
    host = await start();
  });
  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  async function poisonTexts(): Promise<string[]> {
    if (!(await poison.exists())) return [];
    const peeked = await poison.peekMessages({ numberOfMessages: 32 });
    return peeked.peekedMessageItems.map((m) => m.messageText);
  }

  it("decodes base64, parses JSON, passes the trigger metadata and deletes the message on success", async () => {
    const { messageId } = await work.sendMessage(base64(JSON.stringify({ hello: "world", n: 1 })));
    const [record] = await eventually("the invocation evidence", async () => {
      const found = await readEvidence(store.evidence, `queue/${messageId}/`);
      return found.length > 0 ? found : undefined;
    });
    expect(record!.name).toBe(`queue/${messageId}/1.json`);
    expect(record!.value.message).toEqual({ hello: "world", n: 1 });
    const metadata = record!.value.triggerMetadata;
    // queueTrigger is the decoded text, which the library JSON-parses like every string metadata value.
    expect(metadata).toMatchObject({ id: messageId, dequeueCount: 1, queueTrigger: { hello: "world", n: 1 }, hello: "world", n: 1 });
    for (const key of ["insertionTime", "expirationTime", "nextVisibleTime", "popReceipt"]) expect(metadata[key]).toBeTruthy();

    await eventually("the message to be deleted", async () =>
      (await work.getProperties()).approximateMessagesCount === 0 ? true : undefined,
    );
  });

  it("moves a message to <queue>-poison after 5 failed attempts", async () => {
    const text = base64(JSON.stringify({ fail: true, marker: "five-failures" }));
    const { messageId } = await work.sendMessage(text);
    await eventually("the poison message", async () => ((await poisonTexts()).includes(text) ? true : undefined));
    const attempts = await readEvidence(store.evidence, `queue/${messageId}/`);
    expect(attempts.map((a) => a.name).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `queue/${messageId}/${n}.json`));
    expect((await work.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.some((m) => m.messageId === messageId)).toBe(false);
  });

  it("sends a message that is not valid base64 to poison without invoking the function", async () => {
    const text = "this is {not} base64!";
    const { messageId } = await work.sendMessage(text);
    await eventually("the poison message", async () => ((await poisonTexts()).includes(text) ? true : undefined));
    expect(await readEvidence(store.evidence, `queue/${messageId}/`)).toEqual([]);
  });

  it("renews the lease of a long message, and redelivers a message whose host was killed mid-job", async () => {
    await host.stop();
    host = await start(2);
    // Runs 3.5 s under a 2 s lease: renewal must keep it from being delivered twice.
    const long = await work.sendMessage(base64(JSON.stringify({ sleepMs: 3500 })));
    await eventually("the long message to finish", async () => {
      const found = await readEvidence(store.evidence, `queue/${long.messageId}/finished-1`);
      return found.length > 0 ? true : undefined;
    });
    expect((await readEvidence(store.evidence, `queue/${long.messageId}/`)).map((e) => e.name).sort()).toEqual([
      `queue/${long.messageId}/1.json`,
      `queue/${long.messageId}/finished-1.json`,
    ]);

    const killed = await work.sendMessage(base64(JSON.stringify({ sleepMs: 1500 })));
    await eventually("the first attempt to start", async () => {
      const found = await readEvidence(store.evidence, `queue/${killed.messageId}/1.json`);
      return found.length > 0 ? true : undefined;
    });
    await host.kill();
    host = await start(2);
    await eventually("the redelivered attempt to finish", async () => {
      const found = await readEvidence(store.evidence, `queue/${killed.messageId}/finished-2`);
      return found.length > 0 ? true : undefined;
    });
    const names = (await readEvidence(store.evidence, `queue/${killed.messageId}/`)).map((e) => e.name);
    expect(names).not.toContain(`queue/${killed.messageId}/finished-1.json`);
  });
});

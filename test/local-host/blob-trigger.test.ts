import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { BLOB_POISON_QUEUE, HOSTS_CONTAINER, internalQueueName } from "../../tools/local-host/blob-trigger.js";
import { startHost, type LocalHost } from "../../tools/local-host/index.js";
import { clients, eventually, readEvidence, storageFixture } from "./storage-helpers.js";

describe("local host: blob triggers (asserted on Azurite)", () => {
  let azurite: Azurite;
  let host: LocalHost;
  let store: ReturnType<typeof clients>;

  const start = () =>
    startHost({
      entry: "index.mjs",
      cwd: storageFixture,
      port: 0,
      env: { AzureWebJobsStorage: azurite.connectionString },
      blobScanIntervalMs: 300,
      hostId: "blob-test-host",
    });

  async function upload(container: string, name: string, text: string, metadata?: Record<string, string>) {
    const client = store.blobs.getContainerClient(container);
    await client.createIfNotExists();
    await client.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), metadata ? { metadata } : {});
    return client.getBlockBlobClient(name);
  }

  beforeAll(async () => {
    azurite = await startAzurite();
    store = clients(azurite.connectionString);
    host = await start();
  });
  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it("runs once per blob with greedy path parameters and blob trigger metadata, leaving a receipt", async () => {
    const blob = await upload("audio", "talks/day1/intro.wav", "RIFF-audio-bytes", { lang: "en" });
    const [record] = await eventually("the blob invocation", async () => {
      const found = await readEvidence(store.evidence, "blob/talks/day1/intro.wav/");
      return found.length > 0 ? found : undefined;
    });
    expect(record!.value.text).toBe("RIFF-audio-bytes");
    expect(record!.value.triggerMetadata).toMatchObject({
      name: "talks/day1/intro.wav",
      blobTrigger: "audio/talks/day1/intro.wav",
      uri: blob.url,
      metadata: { lang: "en" },
      properties: { contentLength: 16 },
    });
    const receipts: string[] = [];
    for await (const item of store.blobs.getContainerClient(HOSTS_CONTAINER).listBlobsFlat({ prefix: "blobreceipts/blob-test-host/" })) {
      receipts.push(item.name);
    }
    // The WebJobs SDK's path: blobreceipts/<hostId>/<functionId>/"<etag>"/<container>/<blob> (test/conformance/).
    const etag = (await blob.getProperties()).etag!;
    expect(receipts).toContain(`blobreceipts/blob-test-host/Host.Functions.audio/${etag}/audio/talks/day1/intro.wav`);
  });

  it("does not process a blob again after a host restart (receipts), but does process new ones", async () => {
    await upload("audio", "before-restart.wav", "one");
    await eventually("the first processing", async () =>
      (await readEvidence(store.evidence, "blob/before-restart.wav/")).length === 1 ? true : undefined,
    );
    await host.stop();
    host = await start();
    await upload("audio", "after-restart.wav", "two");
    await eventually("the new blob after restart", async () =>
      (await readEvidence(store.evidence, "blob/after-restart.wav/")).length === 1 ? true : undefined,
    );
    // Several scans have run since the restart; the old blob stayed at one invocation.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await readEvidence(store.evidence, "blob/before-restart.wav/")).toHaveLength(1);
    expect(await readEvidence(store.evidence, "blob/talks/day1/intro.wav/")).toHaveLength(1);
  });

  it("runs a blob that was found while its message could not be queued, once queueing works again", async () => {
    const internalQueue = store.queues.getQueueClient(internalQueueName("blob-test-host"));
    await internalQueue.delete();
    try {
      await upload("audio", "queue-was-down.wav", "three");
      // Several scans find the blob and fail to queue it; none may leave a completed receipt (one
      // without the "Incomplete" key) behind that would make later scans skip it.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const completed: string[] = [];
      for await (const item of store.blobs
        .getContainerClient(HOSTS_CONTAINER)
        .listBlobsFlat({ prefix: "blobreceipts/blob-test-host/", includeMetadata: true })) {
        if (item.name.endsWith("/queue-was-down.wav") && !item.metadata?.Incomplete) completed.push(item.name);
      }
      expect(completed).toEqual([]);
    } finally {
      await internalQueue.createIfNotExists();
    }
    await eventually("the blob once its queue is back", async () =>
      (await readEvidence(store.evidence, "blob/queue-was-down.wav/")).length === 1 ? true : undefined,
    );
  });

  it("after 5 failures writes a message to webjobs-blobtrigger-poison", async () => {
    await upload("audio", "will-fail.wav", "bad");
    const poison = store.queues.getQueueClient(BLOB_POISON_QUEUE);
    const message = await eventually(
      "the blob poison message",
      async () => {
        if (!(await poison.exists())) return undefined;
        const peeked = await poison.peekMessages({ numberOfMessages: 32 });
        return peeked.peekedMessageItems
          .map((m) => JSON.parse(Buffer.from(m.messageText, "base64").toString("utf8")) as Record<string, string>)
          .find((m) => m.BlobName === "will-fail.wav");
      },
      20_000,
    );
    expect(message).toMatchObject({ Type: "BlobTrigger", FunctionId: "Host.Functions.audio", ContainerName: "audio" });
    expect(await readEvidence(store.evidence, "blob/will-fail.wav/")).toHaveLength(5);
  });

  it("accepts the Event Grid webhook: validation handshake, then each BlobCreated delivery runs the function (as the SDK: no receipts)", async () => {
    const webhook = `${host.url}/runtime/webhooks/blobs?functionName=Host.Functions.gridAudio`;
    const validation = await fetch(webhook, {
      method: "POST",
      headers: { "aeg-event-type": "SubscriptionValidation", "content-type": "application/json" },
      body: JSON.stringify([{ eventType: "Microsoft.EventGrid.SubscriptionValidationEvent", data: { validationCode: "code-123" } }]),
    });
    expect(await validation.json()).toEqual({ validationResponse: "code-123" });

    const blob = await upload("grid", "clip.wav", "grid-bytes");
    // An EventGrid-source function is not driven by the container scan.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await readEvidence(store.evidence, "grid/clip.wav/")).toHaveLength(0);

    const event = [
      {
        eventType: "Microsoft.Storage.BlobCreated",
        subject: "/blobServices/default/containers/grid/blobs/clip.wav",
        data: { url: blob.url, api: "PutBlob" },
      },
    ];
    for (let i = 0; i < 2; i++) {
      const notified = await fetch(webhook, {
        method: "POST",
        headers: { "aeg-event-type": "Notification", "content-type": "application/json" },
        body: JSON.stringify(event),
      });
      expect(notified.status).toBe(202);
    }
    // Event Grid delivers at least once; the SDK queues every delivery, so this one runs twice.
    await eventually("both Event Grid invocations", async () =>
      (await readEvidence(store.evidence, "grid/clip.wav/")).length === 2 ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await readEvidence(store.evidence, "grid/clip.wav/")).toHaveLength(2);
  });
});

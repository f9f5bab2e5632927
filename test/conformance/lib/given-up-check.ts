/**
 * The app's own transcriptionGivenUp, run by the local host on the storage account the real
 * WebJobs SDK just used: the blob poison message in `webjobs-blobtrigger-poison` is the one the
 * SDK wrote for the oracle's failing `transcribeAudio` (function id Host.Functions.transcribeAudio,
 * container audio), and the audio blob still has the ETag that message names. The app's audio
 * trigger is switched to the Event Grid source so it does not pick the blob up itself.
 */
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { QueueServiceClient } from "@azure/storage-queue";
import { startHost } from "../../../tools/local-host/index.js";
import { REPO_ROOT } from "../../../tools/repo-root.js";
import { start as startSimulator } from "../../../tools/simulator/index.js";
import { BLOB_POISON_QUEUE, FAILING_BLOB } from "./scenarios.js";

export interface GivenUpOutcome {
  status: Record<string, unknown> | undefined;
  poisonLeft: number;
  hostOutput: string;
}

/** Runs the built app (dist/src/index.js) until the status record appears or 30 s pass. */
export async function runAppOnSdkPoison(
  connectionString: string,
  blobs: BlobServiceClient,
  queues: QueueServiceClient,
): Promise<GivenUpOutcome> {
  for (const container of ["transcripts", "embeddings", "speech", "images"]) await blobs.getContainerClient(container).createIfNotExists();
  const simulator = await startSimulator({});
  const lines: string[] = [];
  const host = await startHost({
    entry: path.join(REPO_ROOT, "dist/src/index.js"),
    cwd: REPO_ROOT,
    port: 0,
    isolateEnv: true,
    env: {
      AzureWebJobsStorage: connectionString,
      AZURE_OPENAI_ENDPOINT: simulator.url,
      IDENTITY_ENDPOINT: simulator.identity.endpoint,
      IDENTITY_HEADER: simulator.identity.header,
      FUNCTIONS_WORKER_RUNTIME: "node",
      AUDIO_BLOB_TRIGGER_SOURCE: "EventGrid",
    },
    blobScanIntervalMs: 500,
    onLog: (line) => lines.push(line),
  }).catch(async (error: unknown) => {
    await simulator.stop();
    throw error;
  });
  try {
    const record = blobs.getContainerClient("transcripts").getBlobClient(`${FAILING_BLOB.name}.status.json`);
    const deadline = Date.now() + 30_000;
    let status: Record<string, unknown> | undefined;
    while (Date.now() < deadline) {
      if (await record.exists()) {
        status = JSON.parse((await record.downloadToBuffer()).toString("utf8")) as Record<string, unknown>;
        break;
      }
      await delay(200);
    }
    // The message is deleted after the handler returns; give the host that moment.
    await delay(500);
    const poisonLeft = (await queues.getQueueClient(BLOB_POISON_QUEUE).peekMessages({ numberOfMessages: 32 })).peekedMessageItems.length;
    return { status, poisonLeft, hostOutput: lines.join("\n") };
  } finally {
    await host.stop();
    await simulator.stop();
  }
}

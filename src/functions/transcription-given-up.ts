import { app, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { createSafeLogger } from "../logging.js";
import { getStorageClients } from "../storage/clients.js";

/** Where the Functions host reports blobs it gave up on (fixed by the host, one per storage account). */
export const BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison";

/**
 * Queue trigger on `webjobs-blobtrigger-poison`, where the host reports audio blobs it gave up on:
 * their status becomes a final `failed` that says why (src/transcription/given-up.ts), so a client
 * polling GET /api/transcriptions/{name} never waits on a job that will not run again.
 */
export async function transcriptionGivenUp(message: unknown, context: InvocationContext): Promise<void> {
  const config = getProcessConfig();
  const logger = createSafeLogger(context);
  // Loaded on first message: the validator pulls in zod, which would otherwise slow every cold start.
  const { recordGivenUp } = await import("../transcription/given-up.js");
  await recordGivenUp(
    {
      blobService: (await getStorageClients(config.storage, config.openai.managedIdentityAvailable)).blobService,
      audioContainer: config.audio.container,
      transcriptsContainer: config.audio.transcriptsContainer,
      logger,
    },
    message,
  );
}

app.storageQueue("transcriptionGivenUp", {
  queueName: BLOB_POISON_QUEUE,
  connection: "AzureWebJobsStorage",
  handler: transcriptionGivenUp,
});

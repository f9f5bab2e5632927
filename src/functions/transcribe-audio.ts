import { app, type InvocationContext } from "@azure/functions";
import { getProcessConfig, openAISecrets } from "../config.js";
import { createSafeLogger } from "../logging.js";

/**
 * Blob trigger on `{AUDIO_CONTAINER}/{name}`: audio in, `{TRANSCRIPTS_CONTAINER}/{name}.json|.txt|.srt|.vtt`
 * and `{name}.status.json` out (src/transcription/transcribe-blob.ts says what each failure does).
 *
 * Memory: the trigger delivers the whole blob as one Buffer. The pipeline slices it with views
 * (subarray) and streams those views to Whisper without copying them, so the peak is about the
 * blob plus a few MB per chunk in flight (measured: bench/transcription.ts). Binding only the name and reading ranges with
 * @azure/storage-blob would hold less, but the host sends the content to the worker anyway
 * (the Node.js worker has no reference-only blob binding without an extra SDK-binding package),
 * so ranged reads would add a second copy rather than save the first.
 */
export async function transcribeAudio(blob: unknown, context: InvocationContext): Promise<void> {
  const config = getProcessConfig();
  const logger = createSafeLogger(context, openAISecrets(config.openai));
  const { transcribeBlob, transcriptionDependencies } = await import("../transcription/index.js");
  const metadata = context.triggerMetadata ?? {};
  const name = typeof metadata.name === "string" ? metadata.name : blobNameFromPath(metadata.blobTrigger, config.audio.container);
  const content = toBytes(blob);
  await transcribeBlob(await transcriptionDependencies(config, logger), { name, content, etag: triggerEtag(metadata.properties) });
}

function toBytes(blob: unknown): Uint8Array {
  if (blob instanceof Uint8Array) return blob;
  if (blob instanceof ArrayBuffer) return new Uint8Array(blob);
  if (typeof blob === "string") return Buffer.from(blob, "binary");
  throw new Error(`The blob trigger delivered ${typeof blob} instead of bytes; check the binding's dataType.`);
}

/** The host sends blob properties with camel-cased keys (`eTag`); accept any casing. */
function triggerEtag(properties: unknown): string | undefined {
  if (!properties || typeof properties !== "object") return undefined;
  for (const [key, value] of Object.entries(properties)) if (key.toLowerCase() === "etag" && typeof value === "string") return value;
  return undefined;
}

function blobNameFromPath(path: unknown, container: string): string {
  const text = typeof path === "string" ? path : "";
  return text.startsWith(`${container}/`) ? text.slice(container.length + 1) : text;
}

const config = getProcessConfig();
app.storageBlob("transcribeAudio", {
  path: `${config.audio.container}/{name}`,
  connection: "AzureWebJobsStorage",
  // Flex Consumption supports only the Event Grid source; elsewhere the default container scan works.
  source: config.audio.triggerSource === "EventGrid" ? "EventGrid" : undefined,
  handler: transcribeAudio,
});

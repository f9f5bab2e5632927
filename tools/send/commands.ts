/**
 * What `npm run send` does against the running app's storage and host: upload a file (or a
 * generated WAV) to a container, enqueue a message encoded as host.json says, list and download
 * blobs the app wrote, and post the Event Grid BlobCreated event to the host's blob webhook.
 * Each is a plain function over a SendContext, so cli.ts stays argument parsing and printing.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { BlockBlobClient } from "@azure/storage-blob";
import type { SendContext } from "./settings.js";
import { sampleWav } from "./sample-wav.js";
import type { UsageSnapshot } from "../../src/metrics/usage-totals.js";

const CONTENT_TYPES: Record<string, string> = {
  ".wav": "audio/wav",
  ".mp3": "audio/mpeg",
  ".m4a": "audio/mp4",
  ".ogg": "audio/ogg",
  ".webm": "audio/webm",
  ".flac": "audio/flac",
  ".json": "application/json",
  ".txt": "text/plain",
};

export interface UploadOptions {
  file?: string;
  sample?: boolean;
  container: string;
  name?: string;
  metadata: Record<string, string>;
}

/**
 * Uploads a file (or a generated WAV sample) to a container, creating the container if needed.
 * @throws Error when neither a file nor --sample is given, or the file cannot be read.
 */
export async function upload(ctx: SendContext, options: UploadOptions): Promise<BlockBlobClient> {
  let content: Buffer;
  let name: string;
  if (options.sample) {
    content = sampleWav();
    name = options.name ?? `sample-${new Date().toISOString().replace(/[:.]/g, "-")}.wav`;
  } else if (options.file) {
    content = await readFile(options.file);
    name = options.name ?? path.basename(options.file);
  } else {
    throw new Error("upload needs a file path or --sample.");
  }
  const container = ctx.blobs.getContainerClient(options.container);
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(name);
  await blob.uploadData(content, {
    metadata: options.metadata,
    blobHTTPHeaders: { blobContentType: CONTENT_TYPES[path.extname(name).toLowerCase()] ?? "application/octet-stream" },
  });
  return blob;
}

export interface EnqueueOptions {
  text: string;
  queue: string;
  encoding: "base64" | "none";
}

/**
 * Enqueues a message encoded as the host expects (host.json messageEncoding, base64 by default).
 * @returns the message id.
 */
export async function enqueue(ctx: SendContext, options: EnqueueOptions): Promise<string> {
  const queue = ctx.queues.getQueueClient(options.queue);
  await queue.createIfNotExists();
  const body = options.encoding === "base64" ? Buffer.from(options.text, "utf8").toString("base64") : options.text;
  const sent = await queue.sendMessage(body);
  return sent.messageId;
}

/**
 * Reads a blob (a transcript, an embeddings result) as the app wrote it.
 * @throws Error saying the blob is not there (yet) when it does not exist.
 */
export async function download(ctx: SendContext, container: string, name: string): Promise<Buffer> {
  try {
    return await ctx.blobs.getContainerClient(container).getBlobClient(name).downloadToBuffer();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      throw new Error(`${container}/${name} does not exist (yet?). See what is there: npm run send -- list ${container}`);
    }
    throw error;
  }
}

export interface ListedBlob {
  name: string;
  bytes: number;
  lastModified: Date;
}

/** The blobs of a container, optionally under a name prefix. */
export async function list(ctx: SendContext, container: string, prefix?: string): Promise<ListedBlob[]> {
  const found: ListedBlob[] = [];
  try {
    for await (const blob of ctx.blobs.getContainerClient(container).listBlobsFlat(prefix ? { prefix } : {})) {
      found.push({ name: blob.name, bytes: blob.properties.contentLength ?? 0, lastModified: blob.properties.lastModified });
    }
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) throw new Error(`Container "${container}" does not exist.`);
    throw error;
  }
  return found;
}

export interface BlobEventOptions {
  container: string;
  blobName: string;
  functionName: string;
  functionsUrl: string;
  key?: string;
}

/**
 * Posts the Event Grid BlobCreated event for an existing blob to the host's blob webhook, as an
 * Event Grid subscription does for EventGrid-source blob triggers (Flex Consumption).
 * @throws Error when the blob does not exist or the webhook does not accept the event.
 */
export async function postBlobCreated(ctx: SendContext, options: BlobEventOptions): Promise<number> {
  const blob = ctx.blobs.getContainerClient(options.container).getBlobClient(options.blobName);
  const properties = await blob.getProperties().catch((error: Error & { statusCode?: number }) => {
    if (error.statusCode === 404) throw new Error(`Blob ${options.container}/${options.blobName} not found; upload it first.`);
    throw error;
  });
  const event = {
    id: randomUUID(),
    topic: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/${blob.accountName}`,
    subject: `/blobServices/default/containers/${options.container}/blobs/${options.blobName}`,
    eventType: "Microsoft.Storage.BlobCreated",
    eventTime: new Date().toISOString(),
    dataVersion: "",
    metadataVersion: "1",
    data: {
      api: "PutBlob",
      contentType: properties.contentType,
      contentLength: properties.contentLength,
      blobType: "BlockBlob",
      url: blob.url,
      eTag: properties.etag?.replace(/"/g, ""),
      sequencer: Date.now().toString(16).padStart(32, "0"),
    },
  };
  const url = new URL("/runtime/webhooks/blobs", options.functionsUrl);
  url.searchParams.set("functionName", `Host.Functions.${options.functionName}`);
  if (options.key) url.searchParams.set("code", options.key);
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
    body: JSON.stringify([event]),
  });
  if (response.status >= 300) {
    throw new Error(`The blob webhook answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  }
  return response.status;
}

/**
 * Reads GET /api/usage: the app's totals since it started, by caller and model.
 * @throws Error saying what the app answered, or that it is not running at `functionsUrl`.
 */
export async function fetchUsage(functionsUrl: string, key: string | undefined): Promise<UsageSnapshot> {
  const url = new URL("/api/usage", functionsUrl);
  let response: Response;
  try {
    response = await fetch(url, { headers: key ? { "x-functions-key": key } : {} });
  } catch (error) {
    throw new Error(`Could not reach the app at ${functionsUrl} (${(error as Error).message}); start it with npm start.`);
  }
  if (!response.ok) throw new Error(`GET /api/usage answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  return (await response.json()) as UsageSnapshot;
}

/** The usage totals as a text table: one row per caller and model, then the pipelines' items. */
export function formatUsageTable(usage: UsageSnapshot): string {
  const lines = [`Usage since ${usage.since} (this instance; cost estimated from AI_PRICES, in ${usage.currency})`];
  if (usage.totals.length === 0) {
    lines.push("(no Azure OpenAI calls yet)");
  } else {
    const header = ["caller", "model", "requests", "failed", "prompt", "cached", "completion", "reasoning", "audio min", "images", "cost"];
    const rows = usage.totals.map((t) => [
      t.caller,
      t.model,
      String(t.requests),
      String(t.failed),
      String(t.tokens.prompt),
      String(t.tokens.cached),
      String(t.tokens.completion),
      String(t.tokens.reasoning),
      t.audioMinutes.toFixed(2),
      String(t.images),
      `${t.cost.toFixed(6)}${t.unpriced ? ` (+${t.unpriced} unpriced)` : ""}`,
    ]);
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
    // Names left-aligned, numbers right-aligned.
    const format = (row: string[]) =>
      row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ");
    lines.push(format(header), ...rows.map(format));
  }
  if (usage.pipelines.length > 0) {
    lines.push("", "pipeline items: " + usage.pipelines.map((p) => `${p.pipeline} ${p.outcome} ${p.count}`).join(", "));
  }
  if (usage.throttled.length > 0) lines.push("throttled (429): " + usage.throttled.map((t) => `${t.caller} ${t.count}`).join(", "));
  return lines.join("\n");
}

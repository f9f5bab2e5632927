/**
 * Blob triggers as the Functions host's storage extension runs them: new blobs are found by a
 * container scan with a persisted watermark (LogsAndContainerScan), each (function, blob, ETag)
 * queued once behind a receipt in `azure-webjobs-hosts`, or announced by the Event Grid webhook
 * (EventGrid source, as on Flex Consumption), each event queued as it comes; the host's internal
 * queue runs them with bounded concurrency, immediate retries and a poison message. The same
 * storage artefacts as the WebJobs SDK writes (checked against it by test/conformance/), so the
 * app's blob path runs unchanged.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BlobGetPropertiesResponse, ContainerClient } from "@azure/storage-blob";
import type { DequeuedMessageItem } from "@azure/storage-queue";
import { matchBlobPath, parseBlobPath, type BlobPathPattern } from "./blob-path.js";
import type { CoreRegistry, RegisteredFunction } from "./core-api.js";
import type { HostConfig } from "./host-config.js";
import { invokeFunction, rpcJson, rpcString, systemMetadata, type InvocationLogger } from "./invoke.js";
import { QueueListener } from "./queue-listener.js";
import type { RpcBindingInfo, RpcTypedData } from "./rpc-types.js";
import type { StorageClients } from "./storage-clients.js";

/** The container where the host keeps scan watermarks and blob receipts. */
export const HOSTS_CONTAINER = "azure-webjobs-hosts";
/** Where blobs that failed poisonBlobThreshold times are reported. */
export const BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison";
/** Clock skew and last-modified rounding tolerated by the scan watermark (receipts dedupe overlap). */
const WATERMARK_SKEW_MS = 5_000;

export interface BlobTriggerFunction {
  fn: RegisteredFunction;
  triggerName: string;
  binding: RpcBindingInfo;
  pattern: BlobPathPattern;
  source: "LogsAndContainerScan" | "EventGrid";
}

/** The message the scanner and the webhook queue for each new blob (the host's own format). */
interface BlobTriggerMessage {
  Type: "BlobTrigger";
  FunctionId: string;
  BlobType: string;
  ContainerName: string;
  BlobName: string;
  /** Quoted, as the SDK keeps ETags (`"0x8DC..."`). */
  ETag: string;
}

/** The receipt's metadata key while a blob is being queued; a receipt without it is complete. */
const INCOMPLETE_KEY = "Incomplete";
/** How long a scan holds a receipt's lease while it queues the blob (the SDK's period). */
const RECEIPT_LEASE_SECONDS = 30;

export interface BlobTriggerDeps {
  registry: CoreRegistry;
  config: HostConfig;
  storage: StorageClients;
  hostId: string;
  scanIntervalMs: number;
  leaseSeconds: number;
  log: InvocationLogger;
  hostLog: (message: string) => void;
}

/** Lists the blob-triggered functions with their parsed paths. */
export function collectBlobTriggers(registry: CoreRegistry): BlobTriggerFunction[] {
  const found: BlobTriggerFunction[] = [];
  for (const fn of registry.functions.values()) {
    for (const [triggerName, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.type?.toLowerCase() !== "blobtrigger") continue;
      const path =
        typeof binding.path === "string" ? binding.path.replace(/%([^%]+)%/g, (_, setting: string) => process.env[setting] ?? "") : "";
      found.push({
        fn,
        triggerName,
        binding,
        pattern: parseBlobPath(path),
        source: String(binding.source ?? "").toLowerCase() === "eventgrid" ? "EventGrid" : "LogsAndContainerScan",
      });
    }
  }
  return found;
}

/**
 * Blob triggers as the storage extension runs them: new blobs are found (container scan with a
 * persisted watermark, or the Event Grid webhook), queued on the host's internal queue and
 * recorded once per ETag with a receipt in `azure-webjobs-hosts`; that queue runs the function
 * with bounded concurrency, retries, and a `webjobs-blobtrigger-poison` message after
 * poisonBlobThreshold failures.
 */
export class BlobTriggerHost {
  #deps: BlobTriggerDeps;
  #functions: BlobTriggerFunction[];
  #listener: QueueListener | undefined;
  #scanTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #stopped = false;

  constructor(deps: BlobTriggerDeps, functions: BlobTriggerFunction[]) {
    this.#deps = deps;
    this.#functions = functions;
  }

  get functions(): BlobTriggerFunction[] {
    return this.#functions;
  }

  /** Creates the containers it needs and starts scanning and processing. */
  async start(): Promise<void> {
    if (this.#functions.length === 0) return;
    const { storage, config, hostId } = this.#deps;
    await storage.blobs.getContainerClient(HOSTS_CONTAINER).createIfNotExists();
    for (const blobFunction of this.#functions) await storage.blobs.getContainerClient(blobFunction.pattern.container).createIfNotExists();
    const queue = storage.queues.getQueueClient(internalQueueName(hostId));
    await queue.createIfNotExists();
    const batching = blobQueueBatching(config.blobs.maxDegreeOfParallelism);
    this.#listener = new QueueListener({
      queue,
      batchSize: batching.batchSize,
      newBatchThreshold: batching.newBatchThreshold,
      maxPollingIntervalMs: config.queues.maxPollingIntervalMs,
      // The SDK's blob queue takes none of extensions.queues: a failed blob is retried at once.
      retryVisibilityMs: 0,
      maxDequeueCount: config.blobs.poisonBlobThreshold,
      leaseSeconds: this.#deps.leaseSeconds,
      log: this.#deps.hostLog,
      process: (message) => this.#process(message),
      poison: (message) => this.#poison(message),
    });
    this.#listener.start();
    if (this.#functions.some((blobFunction) => blobFunction.source === "LogsAndContainerScan")) this.#scheduleScan(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#scanTimer);
    await this.#scanning;
    await this.#listener?.stop();
  }

  /**
   * `POST /runtime/webhooks/blobs?functionName=Host.Functions.NAME`: answers the Event Grid
   * SubscriptionValidation handshake and queues each BlobCreated event for that function, as the
   * SDK does: no receipt, so an event delivered twice runs twice, with the event's ETag.
   */
  async handleWebhook(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const requested = url.searchParams.get("functionName") ?? "";
    const name = requested.replace(/^Host\.Functions\./i, "").toLowerCase();
    const target = this.#functions.find((blobFunction) => blobFunction.fn.metadata.name.toLowerCase() === name);
    if (!target || target.source !== "EventGrid") {
      return json(res, 404, { error: `No blob trigger function "${requested}" with source EventGrid.` });
    }
    let events: Array<{ eventType?: string; data?: { validationCode?: string; url?: string; eTag?: string; blobType?: string } }>;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      events = Array.isArray(parsed) ? parsed : [parsed as never];
    } catch {
      return json(res, 400, { error: "The body must be a JSON array of Event Grid events." });
    }
    const eventType = String(req.headers["aeg-event-type"] ?? "");
    if (eventType === "SubscriptionValidation" || events[0]?.eventType === "Microsoft.EventGrid.SubscriptionValidationEvent") {
      return json(res, 200, { validationResponse: events[0]?.data?.validationCode });
    }
    for (const event of events) {
      if (event.eventType !== "Microsoft.Storage.BlobCreated" || !event.data?.url) continue;
      const location = parseBlobUrl(event.data.url);
      if (!location || location.container !== target.pattern.container) continue;
      if (!matchBlobPath(target.pattern, location.blobName)) continue;
      // Event Grid's events carry the ETag; one without (a hand-made event) gets the blob's current one.
      let etag = event.data.eTag;
      if (!etag) {
        const container = this.#deps.storage.blobs.getContainerClient(location.container);
        // A blob deleted since is skipped; any other failure answers 500 (below) so Event Grid redelivers.
        const properties = await container
          .getBlobClient(location.blobName)
          .getProperties()
          .catch((error: unknown) => {
            if ((error as { statusCode?: number }).statusCode === 404) return undefined;
            throw error;
          });
        etag = properties?.etag;
      }
      if (etag) await this.#enqueue(target, location.container, location.blobName, etag, event.data.blobType ?? "BlockBlob");
    }
    res.writeHead(202).end();
  }

  #scheduleScan(delayMs: number): void {
    if (this.#stopped) return;
    this.#scanTimer = setTimeout(() => {
      this.#scanning = this.#scanAll()
        .catch((error: Error) => this.#deps.hostLog(`Blob scan failed (${error.message}); retrying.`))
        .finally(() => this.#scheduleScan(this.#deps.scanIntervalMs));
    }, delayMs);
  }

  async #scanAll(): Promise<void> {
    const scanned = this.#functions.filter((blobFunction) => blobFunction.source === "LogsAndContainerScan");
    for (const containerName of new Set(scanned.map((blobFunction) => blobFunction.pattern.container))) {
      if (this.#stopped) return;
      await this.#scanContainer(
        containerName,
        scanned.filter((blobFunction) => blobFunction.pattern.container === containerName),
      );
    }
  }

  async #scanContainer(containerName: string, functions: BlobTriggerFunction[]): Promise<void> {
    const { storage, hostId } = this.#deps;
    const container = storage.blobs.getContainerClient(containerName);
    const scanInfo = storage.blobs
      .getContainerClient(HOSTS_CONTAINER)
      .getBlockBlobClient(`blobscaninfo/${hostId}/${storage.accountName}/${containerName}`);
    const latestScan = await readLatestScan(scanInfo);
    const scanStartedAt = new Date();
    const prefix = commonPrefix(functions.map((blobFunction) => blobFunction.pattern.prefix));
    for await (const blob of listBlobs(container, prefix)) {
      const modified = blob.properties.lastModified.getTime();
      if (latestScan !== undefined && modified < latestScan - WATERMARK_SKEW_MS) continue;
      for (const blobFunction of functions) {
        if (matchBlobPath(blobFunction.pattern, blob.name)) {
          await this.#enqueueOnce(
            blobFunction,
            containerName,
            blob.name,
            blob.properties.etag ?? "",
            blob.properties.blobType ?? "BlockBlob",
          );
        }
      }
    }
    const body = JSON.stringify({ LatestScan: scanStartedAt.toISOString() });
    await scanInfo.upload(body, Buffer.byteLength(body));
  }

  /**
   * Queues this (function, blob, ETag) once, as the SDK's scan does: a receipt is created
   * incomplete (`Incomplete` metadata), leased, the message sent, and the receipt completed by
   * removing that key; the lease then goes. A receipt without the key means "already queued"; a
   * failure or crash before completing leaves it incomplete, so the next sighting queues the blob
   * again (twice at worst, never skipped). The receipt is complete once queued, whatever the runs
   * then do: a blob whose runs all fail goes to poison and is not queued again.
   */
  async #enqueueOnce(
    blobFunction: BlobTriggerFunction,
    containerName: string,
    blobName: string,
    etag: string,
    blobType: string,
  ): Promise<void> {
    const receipt = this.#receipt(blobFunction, containerName, blobName, etag);
    const found = await receipt.getProperties().catch(unlessNotFound);
    if (found && !isIncomplete(found.metadata)) return;
    if (!found) {
      try {
        await receipt.upload("", 0, { conditions: { ifNoneMatch: "*" }, metadata: { [INCOMPLETE_KEY]: INCOMPLETE_KEY } });
      } catch (error) {
        if (isConflict(error)) return; // another scan just created it: its lease decides
        throw error;
      }
    }
    const lease = receipt.getBlobLeaseClient();
    try {
      await lease.acquireLease(RECEIPT_LEASE_SECONDS);
    } catch (error) {
      if (isConflict(error) || (error as { statusCode?: number }).statusCode === 404) return;
      throw error;
    }
    try {
      const current = await receipt.getProperties();
      if (!isIncomplete(current.metadata)) return;
      await this.#enqueue(blobFunction, containerName, blobName, etag, blobType);
      const metadata = Object.fromEntries(Object.entries(current.metadata ?? {}).filter(([key]) => key.toLowerCase() !== "incomplete"));
      await receipt.setMetadata(metadata, { conditions: { leaseId: lease.leaseId } });
    } finally {
      await lease.releaseLease().catch(() => undefined);
    }
  }

  /** Sends the blob trigger message to the host's internal queue. */
  async #enqueue(
    blobFunction: BlobTriggerFunction,
    containerName: string,
    blobName: string,
    etag: string,
    blobType: string,
  ): Promise<void> {
    const message: BlobTriggerMessage = {
      Type: "BlobTrigger",
      FunctionId: blobFunction.fn.functionId,
      BlobType: blobType,
      ContainerName: containerName,
      BlobName: blobName,
      ETag: quote(etag),
    };
    await this.#deps.storage.queues.getQueueClient(internalQueueName(this.#deps.hostId)).sendMessage(encodeBlobTriggerMessage(message));
  }

  /** `blobreceipts/<hostId>/<functionId>/"<etag>"/<container>/<blob>`: the SDK's path, quoted ETag included. */
  #receipt(blobFunction: BlobTriggerFunction, containerName: string, blobName: string, etag: string) {
    const path = `blobreceipts/${this.#deps.hostId}/${blobFunction.fn.functionId}/${quote(etag)}/${containerName}/${blobName}`;
    return this.#deps.storage.blobs.getContainerClient(HOSTS_CONTAINER).getBlockBlobClient(path);
  }

  async #process(queued: DequeuedMessageItem): Promise<void> {
    const message = JSON.parse(Buffer.from(queued.messageText, "base64").toString("utf8")) as BlobTriggerMessage;
    const blobFunction = this.#functions.find((candidate) => candidate.fn.functionId === message.FunctionId);
    if (!blobFunction) {
      this.#deps.hostLog(`Dropping blob trigger message for unknown function ${message.FunctionId}.`);
      return;
    }
    const blob = this.#deps.storage.blobs.getContainerClient(message.ContainerName).getBlobClient(message.BlobName);
    let properties: BlobGetPropertiesResponse;
    try {
      properties = await blob.getProperties();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return; // deleted since: nothing to do
      throw error;
    }
    // A scanned blob overwritten since has its own ETag, receipt and message; an Event Grid event
    // runs on whatever the blob now holds (the SDK compares ETags only for the scan source).
    if (blobFunction.source === "LogsAndContainerScan" && unquote(properties.etag) !== unquote(message.ETag)) return;
    const content = await blob.downloadToBuffer();
    const params = matchBlobPath(blobFunction.pattern, message.BlobName) ?? {};
    const data: RpcTypedData = blobFunction.binding.dataType === "string" ? rpcString(content.toString("utf8")) : { bytes: content };
    const triggerMetadata: Record<string, RpcTypedData> = {
      BlobTrigger: rpcString(`${message.ContainerName}/${message.BlobName}`),
      Uri: rpcString(blob.url),
      Properties: rpcJson(describeProperties(properties)),
      Metadata: rpcJson(properties.metadata ?? {}),
      sys: systemMetadata(blobFunction.fn.metadata.name),
    };
    for (const [name, value] of Object.entries(params)) triggerMetadata[name] = rpcString(value);
    await invokeFunction(
      this.#deps.registry,
      blobFunction.fn,
      {
        inputData: [{ name: blobFunction.triggerName, data }],
        triggerMetadata,
        reason: `New blob detected(${blobFunction.source}): ${message.ContainerName}/${message.BlobName}`,
      },
      this.#deps.log,
    );
  }

  async #poison(queued: DequeuedMessageItem): Promise<void> {
    const poisonQueue = this.#deps.storage.queues.getQueueClient(BLOB_POISON_QUEUE);
    await poisonQueue.createIfNotExists();
    // The message as it was queued: base64, whatever extensions.queues.messageEncoding says (the
    // SDK's blob queues do not follow that setting).
    await poisonQueue.sendMessage(queued.messageText);
  }
}

/**
 * The SDK's serialization of a blob trigger message (Newtonsoft, indented, two spaces), base64 on
 * the internal queue and in `webjobs-blobtrigger-poison`.
 */
export function encodeBlobTriggerMessage(message: BlobTriggerMessage): string {
  return Buffer.from(JSON.stringify(message, null, 2), "utf8").toString("base64");
}

/**
 * The SDK's batching of the blob queue for maxDegreeOfParallelism: half of it plus one per
 * batch (at most 32), the next batch fetched when the rest is what still runs, so at most
 * maxDegreeOfParallelism blobs run at once.
 */
export function blobQueueBatching(maxDegreeOfParallelism: number): { batchSize: number; newBatchThreshold: number } {
  const parallelism = Math.max(1, maxDegreeOfParallelism);
  const batchSize = Math.min(32, Math.floor(parallelism / 2) + 1);
  return { batchSize, newBatchThreshold: Math.max(0, parallelism - batchSize) };
}

function isIncomplete(metadata: Record<string, string> | undefined): boolean {
  return Object.keys(metadata ?? {}).some((key) => key.toLowerCase() === "incomplete");
}

function unlessNotFound(error: unknown): undefined {
  if ((error as { statusCode?: number }).statusCode === 404) return undefined;
  throw error;
}

function quote(etag: string): string {
  return `"${unquote(etag)}"`;
}

/** Listings give ETags bare, property reads give them quoted; compare and store them bare. */
function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/"/g, "");
}

/** The host's internal queue of blobs to process (one per host id). */
export function internalQueueName(hostId: string): string {
  return `azure-webjobs-blobtrigger-${hostId}`.slice(0, 63).replace(/-+$/, "");
}

function describeProperties(properties: BlobGetPropertiesResponse): Record<string, unknown> {
  return {
    BlobType: properties.blobType,
    ContentType: properties.contentType,
    ContentLength: properties.contentLength,
    ContentEncoding: properties.contentEncoding,
    ContentMD5: properties.contentMD5 ? Buffer.from(properties.contentMD5).toString("base64") : undefined,
    ETag: properties.etag,
    LastModified: properties.lastModified?.toISOString(),
    CreatedOn: properties.createdOn?.toISOString(),
    AccessTier: properties.accessTier,
  };
}

async function readLatestScan(scanInfo: { downloadToBuffer(): Promise<Buffer> }): Promise<number | undefined> {
  try {
    const info = JSON.parse((await scanInfo.downloadToBuffer()).toString("utf8")) as { LatestScan?: string };
    return info.LatestScan ? Date.parse(info.LatestScan) : undefined;
  } catch {
    return undefined;
  }
}

async function* listBlobs(container: ContainerClient, prefix: string) {
  try {
    yield* container.listBlobsFlat(prefix ? { prefix, includeMetadata: false } : {});
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return; // container not there yet
    throw error;
  }
}

function commonPrefix(prefixes: string[]): string {
  if (prefixes.length === 0) return "";
  let common = prefixes[0]!;
  for (const prefix of prefixes) while (!prefix.startsWith(common)) common = common.slice(0, -1);
  return common;
}

function isConflict(error: unknown): boolean {
  const status = (error as { statusCode?: number }).statusCode;
  return status === 409 || status === 412;
}

/** Splits `https://acct.blob.core.windows.net/container/a/b.wav` (or an Azurite URL) into its parts. */
export function parseBlobUrl(url: string): { container: string; blobName: string } | undefined {
  try {
    const parsed = new URL(url);
    let segments = parsed.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    // Azurite and other path-style endpoints put the account name first.
    if (/^(127\.0\.0\.1|localhost|\[::1\])$/.test(parsed.hostname) || parsed.port !== "") segments = segments.slice(1);
    const [container, ...rest] = segments;
    return container && rest.length > 0 ? { container, blobName: rest.join("/") } : undefined;
  } catch {
    return undefined;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

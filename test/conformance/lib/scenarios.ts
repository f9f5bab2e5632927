/**
 * One phase of the conformance scenarios, driven identically for either host: seed Azurite, start
 * the host, deliver Event Grid events to its blob webhook, overwrite blobs, wait for the outcomes
 * each scenario needs (with generous limits: the SDK scans containers every 10 s), stop the host
 * and read what it left. The same seeds and steps for both hosts, so their observations compare.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { startAzurite, type Azurite } from "../../../tools/local-host/azurite.js";
import { observe, readInvocations, type Observation } from "./observe.js";
import type { TriggerSettings } from "./settings.js";
import type { RunningTriggerHost, StartOptions } from "./trigger-hosts.js";

export const QUEUES = { ok: "conformance-ok", bad: "conformance-bad", fail: "conformance-fail" } as const;
export const BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison";
export const SCAN_BLOB = { container: "scan", name: "new.txt" };
export const FAILING_BLOB = { container: "audio", name: "talk.wav" };
export const GRID_BLOB = { container: "grid", name: "g.txt" };
export const OK_PAYLOAD = JSON.stringify({ id: "doc-1", marker: "ok" });
export const FAIL_PAYLOAD = "fail-me";
export const NOT_BASE64 = "not base64!!";
export const VALIDATION_CODE = "conformance-validation-code";

/** What the driver itself knows, to tell values (message ids, ETags, send times) in observations. */
export interface PhaseSeeds {
  messageIds: Record<keyof typeof QUEUES, string>;
  sentAt: number;
  /** Bare ETags of each blob version, by "container/name vN". */
  etags: Record<string, string>;
  validationResponse: unknown;
  /** Status codes of each webhook notification, in order. */
  webhookStatuses: number[];
}

export interface PhaseResult {
  side: RunningTriggerHost["side"];
  observation: Observation;
  seeds: PhaseSeeds;
  /** Still running: the caller stops it (the base64 phase's is reused for the app's given-up check). */
  azurite: Azurite;
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
  ms: number;
}

const encode = (text: string, settings: TriggerSettings) =>
  settings.messageEncoding === "base64" ? Buffer.from(text, "utf8").toString("base64") : text;

/**
 * Runs one phase under the host `start` starts.
 * @throws Error when a scenario's outcome does not arrive in time (with the host's output).
 */
export async function runPhase(
  start: (options: StartOptions) => Promise<RunningTriggerHost>,
  settings: TriggerSettings,
): Promise<PhaseResult> {
  const started = Date.now();
  const azurite = await startAzurite();
  const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
  const invocationsFile = path.join(mkdtempSync(path.join(tmpdir(), "conformance-")), "invocations.jsonl");
  let host: RunningTriggerHost | undefined;
  try {
    for (const name of Object.values(QUEUES)) await queues.getQueueClient(name).create();
    for (const { container } of [SCAN_BLOB, FAILING_BLOB, GRID_BLOB]) await blobs.getContainerClient(container).create();
    const sentAt = Date.now();
    const messageIds = {
      ok: (await queues.getQueueClient(QUEUES.ok).sendMessage(encode(OK_PAYLOAD, settings))).messageId,
      // Not base64 whatever the encoding: under "none" it is plain text and runs.
      bad: (await queues.getQueueClient(QUEUES.bad).sendMessage(NOT_BASE64)).messageId,
      fail: (await queues.getQueueClient(QUEUES.fail).sendMessage(encode(FAIL_PAYLOAD, settings))).messageId,
    };
    const etags: Record<string, string> = {};
    const upload = async (blob: { container: string; name: string }, text: string, version: number, metadata?: Record<string, string>) => {
      const client = blobs.getContainerClient(blob.container).getBlockBlobClient(blob.name);
      const response = await client.upload(text, Buffer.byteLength(text), metadata ? { metadata } : {});
      etags[`${blob.container}/${blob.name} v${version}`] = (response.etag ?? "").replace(/"/g, "");
      return client.url;
    };
    await upload(SCAN_BLOB, "first", 1, { lang: "en" });
    await upload(FAILING_BLOB, "not really audio", 1);
    const gridUrl = await upload(GRID_BLOB, "grid one", 1);

    host = await start({ connectionString: azurite.connectionString, settings, invocationsFile });
    const running = host;
    const seen = () => readInvocations(invocationsFile);
    const waitFor = (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) => until(what, check, timeoutMs, running);
    const hasMessage = async (queue: string) => {
      const client = queues.getQueueClient(queue);
      return (await client.exists()) && (await client.peekMessages()).peekedMessageItems.length > 0;
    };

    const validation = await fetch(`${host.webhookUrl}?functionName=Host.Functions.gridBlob`, {
      method: "POST",
      headers: { "aeg-event-type": "SubscriptionValidation", "content-type": "application/json" },
      body: JSON.stringify([validationEvent()]),
    });
    const validationResponse: unknown = await validation.json().catch(() => `HTTP ${validation.status}`);
    const webhookStatuses: number[] = [];
    const notify = async (version: number) => {
      const response = await fetch(`${running.webhookUrl}?functionName=Host.Functions.gridBlob`, {
        method: "POST",
        headers: { "aeg-event-type": "Notification", "content-type": "application/json" },
        body: JSON.stringify([blobCreatedEvent(gridUrl, etags[`grid/g.txt v${version}`]!, version)]),
      });
      webhookStatuses.push(response.status);
    };
    await notify(1);

    await waitFor(
      "the first round of outcomes",
      async () => {
        const runs = seen();
        const count = (fn: string) => runs.filter((run) => run.function === fn).length;
        return (
          count("queueOk") >= 1 &&
          count("blobScan") >= 1 &&
          count("gridBlob") >= 1 &&
          (await hasMessage(`${QUEUES.fail}-poison`)) &&
          (settings.messageEncoding === "none" ? count("queueBad") >= 1 : await hasMessage(`${QUEUES.bad}-poison`)) &&
          (await hasMessage(BLOB_POISON_QUEUE))
        );
      },
      45_000,
    );

    // Overwrites: a new version of each blob; the Event Grid one is announced twice (Event Grid
    // delivers at least once).
    await upload(SCAN_BLOB, "second", 2, { lang: "de" });
    await upload(GRID_BLOB, "grid two", 2);
    await notify(2);
    await notify(2);
    await waitFor(
      "the overwritten blobs to run again",
      () => {
        const runs = seen();
        return (
          runs.some((run) => run.function === "blobScan" && run.input === "second") &&
          runs.some((run) => run.function === "gridBlob" && run.input === "grid two")
        );
      },
      30_000,
    );
    // Time for a duplicate run, a retry of the poisoned blob or the second Event Grid delivery to show.
    await delay(3_000);
    await host.stop();
    host = undefined;
    return {
      side: running.side,
      observation: await observe(blobs, queues, invocationsFile),
      seeds: { messageIds, sentAt, etags, validationResponse, webhookStatuses },
      azurite,
      blobs,
      queues,
      ms: Date.now() - started,
    };
  } catch (error) {
    await host?.stop().catch(() => undefined);
    await azurite.stop();
    throw error;
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, host: RunningTriggerHost): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(
        `${host.side}: timed out after ${timeoutMs} ms waiting for ${what}. Its output:\n${host.output().split("\n").slice(-60).join("\n")}`,
      );
    }
    await delay(200);
  }
}

function validationEvent() {
  return {
    id: "validation-1",
    topic: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
    subject: "",
    eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
    eventTime: new Date().toISOString(),
    data: { validationCode: VALIDATION_CODE, validationUrl: "https://127.0.0.1/validate" },
    dataVersion: "1",
    metadataVersion: "1",
  };
}

/** A BlobCreated event as Event Grid delivers it (Event Grid schema), for a blob on Azurite. */
function blobCreatedEvent(url: string, etag: string, version: number) {
  const { pathname } = new URL(url);
  const [, , container, ...name] = pathname.split("/");
  return {
    id: `blob-created-${version}`,
    topic: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
    subject: `/blobServices/default/containers/${container}/blobs/${name.join("/")}`,
    eventType: "Microsoft.Storage.BlobCreated",
    eventTime: new Date().toISOString(),
    data: {
      api: "PutBlob",
      clientRequestId: `client-${version}`,
      requestId: `request-${version}`,
      eTag: etag,
      contentType: "application/octet-stream",
      contentLength: 8,
      blobType: "BlockBlob",
      url,
      sequencer: String(version).padStart(32, "0"),
      storageDiagnostics: { batchId: `batch-${version}` },
    },
    dataVersion: "",
    metadataVersion: "1",
  };
}

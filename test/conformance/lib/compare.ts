/**
 * Turns a phase's raw observation into what must agree between the hosts, scenario by scenario:
 * values that differ by nature (message ids, ETags, pop receipts, times) become what they mean
 * ("the message's id", "version 2's ETag", "about 10 minutes later"), everything else stays as
 * stored, byte for byte (poison message texts included).
 */
import { BLOB_POISON_QUEUE, QUEUES, type PhaseResult } from "./scenarios.js";
import type { TriggerSettings } from "./settings.js";
import type { Invocation } from "./observe.js";

export type Comparable = Record<string, unknown>;

/** The scenarios each phase compares, by title. */
export const SCENARIO_TITLES = [
  "queue: a message that succeeds",
  "queue: a message that is not valid base64",
  "queue: a handler that fails every time",
  "blob (LogsAndContainerScan): a new blob runs once, an overwritten one again",
  "blob (LogsAndContainerScan): a handler that fails every time",
  "blob (EventGrid): validation, a new blob, an overwritten one announced twice",
  "blob: the host's own state once idle",
] as const;

/** Replaces each known ETag (bare or quoted) in a text with its label, e.g. `<scan/new.txt v2>`. */
function labelEtags(text: string, etags: Record<string, string>): string {
  let out = text;
  for (const [label, etag] of Object.entries(etags)) if (etag) out = out.split(etag).join(`<${label}>`);
  return out;
}

const fromBase64 = (text: string) => Buffer.from(text, "base64").toString("utf8");

function queueRun(run: Invocation, messageId: string, sentAt: number) {
  const meta = run.metadata as Record<string, string | number>;
  const time = (key: string) => Date.parse(String(meta[key]));
  return {
    input: run.input,
    dequeueCount: meta.dequeueCount,
    idIsTheMessageId: meta.id === messageId,
    queueTriggerIsTheInput: meta.queueTrigger === run.input,
    insertionTimeIsWhenSent: Math.abs(time("insertionTime") - sentAt) < 3_000,
    expiresDaysAfterInsertion: Math.round((time("expirationTime") - time("insertionTime")) / 86_400_000),
    nextVisibleMinutesAfterRun: Math.round((time("nextVisibleTime") - run.at) / 60_000),
    hasPopReceipt: typeof meta.popReceipt === "string" && meta.popReceipt.length > 0,
  };
}

function blobRun(run: Invocation, etags: Record<string, string>) {
  const meta = run.metadata as Record<string, unknown>;
  return {
    input: run.input,
    name: meta.name,
    blobTrigger: meta.blobTrigger,
    etag: labelEtags(String(meta.etag ?? "").replace(/"/g, ""), etags),
    contentLength: meta.contentLength,
    metadata: meta.metadata,
    uriPath: new URL(String(meta.uri)).pathname,
  };
}

/** Gaps between consecutive attempts, as "at least the visibility timeout" or not. */
function retryDelays(runs: Invocation[], visibilityTimeoutMs: number): string[] {
  return runs
    .slice(1)
    .map((run, i) => (run.at - runs[i]!.at >= visibilityTimeoutMs * 0.9 ? "waited visibilityTimeout" : "retried at once"));
}

/** The scenarios of one phase, each a value that must be equal for both hosts. */
export function comparable(result: PhaseResult, settings: TriggerSettings): Record<(typeof SCENARIO_TITLES)[number], Comparable> {
  const { observation, seeds } = result;
  const runsOf = (fn: string) => observation.invocations.filter((run) => run.function === fn);
  const queue = (name: string) => observation.queues[name];
  const texts = (name: string) => queue(name)?.map((message) => message.text);
  const hostBlobs = (fn: string) =>
    observation.hostBlobs
      .filter((blob) => blob.name.includes(`/Host.Functions.${fn}/`))
      .map((blob) => ({ name: labelEtags(blob.name, seeds.etags), metadata: blob.metadata, content: blob.content }))
      .sort((a, b) => a.name.localeCompare(b.name));
  // Decoded when stored as base64 of JSON (whatever messageEncoding says), so ETags can be labelled.
  const messages = (name: string) => texts(name)?.map((text) => labelEtags(isBase64Of(text, "{") ? fromBase64(text) : text, seeds.etags));

  return {
    ["queue: a message that succeeds"]: {
      runs: runsOf("queueOk").map((run) => queueRun(run, seeds.messageIds.ok, seeds.sentAt)),
      leftInQueue: texts(QUEUES.ok),
      poisonQueue: texts(`${QUEUES.ok}-poison`),
    },
    ["queue: a message that is not valid base64"]: {
      runs: runsOf("queueBad").map((run) => queueRun(run, seeds.messageIds.bad, seeds.sentAt)),
      leftInQueue: texts(QUEUES.bad),
      poisonQueue: texts(`${QUEUES.bad}-poison`),
    },
    ["queue: a handler that fails every time"]: {
      runs: runsOf("queueFail").map((run) => queueRun(run, seeds.messageIds.fail, seeds.sentAt)),
      retries: retryDelays(runsOf("queueFail"), settings.visibilityTimeoutMs),
      leftInQueue: texts(QUEUES.fail),
      poisonQueue: texts(`${QUEUES.fail}-poison`),
      poisonMessageDequeueCounts: queue(`${QUEUES.fail}-poison`)?.map((message) => message.dequeueCount),
    },
    ["blob (LogsAndContainerScan): a new blob runs once, an overwritten one again"]: {
      runs: runsOf("blobScan").map((run) => blobRun(run, seeds.etags)),
      receipts: hostBlobs("blobScan"),
    },
    ["blob (LogsAndContainerScan): a handler that fails every time"]: {
      runs: runsOf("transcribeAudio").map((run) => blobRun(run, seeds.etags)),
      retries: retryDelays(runsOf("transcribeAudio"), settings.visibilityTimeoutMs),
      receipts: hostBlobs("transcribeAudio"),
      poisonQueue: BLOB_POISON_QUEUE in observation.queues ? BLOB_POISON_QUEUE : undefined,
      // Exactly as stored, but for the ETag's value; the stored text is given decoded when base64.
      poisonMessages: messages(BLOB_POISON_QUEUE),
      poisonMessagesStoredAsBase64: texts(BLOB_POISON_QUEUE)?.map((text) => isBase64Of(text, "{")),
    },
    ["blob (EventGrid): validation, a new blob, an overwritten one announced twice"]: {
      validationResponse: seeds.validationResponse,
      webhookStatuses: seeds.webhookStatuses,
      runs: runsOf("gridBlob").map((run) => blobRun(run, seeds.etags)),
      receipts: hostBlobs("gridBlob"),
    },
    ["blob: the host's own state once idle"]: {
      internalQueues: Object.entries(observation.queues)
        .filter(([name]) => name.startsWith("azure-webjobs-blobtrigger-"))
        .map(([name, stored]) => ({
          name,
          messages: stored.map((message) =>
            labelEtags(isBase64Of(message.text, "{") ? fromBase64(message.text) : message.text, seeds.etags),
          ),
        })),
      // Not compared: the scan watermark (blobscaninfo/...). The SDK wrote none on Azurite in these
      // runs; tools/local-host/README.md ("Differences") says what the local host keeps instead.
    },
  };
}

function isBase64Of(text: string, firstChar: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, "base64").toString("utf8").trimStart().startsWith(firstChar);
}

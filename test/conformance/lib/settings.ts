/**
 * The trigger settings both hosts run with in one phase: the host.json values the local host reads
 * and the same values handed to the WebJobs oracle as configuration. Small on purpose (200 ms
 * polling, 3 attempts, 3 s between queue retries) so a phase takes seconds, not minutes.
 */
export type MessageEncoding = "base64" | "none";

export interface TriggerSettings {
  messageEncoding: MessageEncoding;
  batchSize: number;
  maxDequeueCount: number;
  visibilityTimeoutMs: number;
  maxPollingIntervalMs: number;
  poisonBlobThreshold: number;
  maxDegreeOfParallelism: number;
}

export function phaseSettings(messageEncoding: MessageEncoding): TriggerSettings {
  return {
    messageEncoding,
    batchSize: 16,
    maxDequeueCount: 3,
    // Long enough that a retry "at once" on a loaded machine never looks like one that waited it out.
    visibilityTimeoutMs: 3_000,
    maxPollingIntervalMs: 200,
    poisonBlobThreshold: 3,
    maxDegreeOfParallelism: 4,
  };
}

/** The host id both hosts use: it names receipts, the scan watermark and the internal blob queue. */
export const CONFORMANCE_HOST_ID = "conformance";

/** host.json for the local host with these settings. */
export function hostJsonFor(settings: TriggerSettings): object {
  return {
    version: "2.0",
    extensions: {
      queues: {
        batchSize: settings.batchSize,
        maxDequeueCount: settings.maxDequeueCount,
        visibilityTimeout: timeSpan(settings.visibilityTimeoutMs),
        maxPollingInterval: timeSpan(settings.maxPollingIntervalMs),
        messageEncoding: settings.messageEncoding,
      },
      blobs: { poisonBlobThreshold: settings.poisonBlobThreshold, maxDegreeOfParallelism: settings.maxDegreeOfParallelism },
    },
  };
}

function timeSpan(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const fraction = ms % 1000;
  const hh = String(Math.floor(seconds / 3600)).padStart(2, "0");
  const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, "0");
  const ss = String(seconds % 60).padStart(2, "0");
  return `${hh}:${mm}:${ss}${fraction ? `.${String(fraction).padStart(3, "0")}` : ""}`;
}

/**
 * What a host left behind, read the same way for both hosts after each has stopped: every queue
 * with its messages as stored, every blob the host keeps in `azure-webjobs-hosts` (receipts, scan
 * watermarks, locks) with its metadata and content, and the invocations its handlers recorded.
 */
import { readFileSync } from "node:fs";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { QueueServiceClient } from "@azure/storage-queue";

export interface Invocation {
  function: string;
  at: number;
  input: string;
  metadata: Record<string, unknown>;
}

export interface StoredMessage {
  text: string;
  dequeueCount: number;
}

export interface HostBlob {
  name: string;
  metadata: Record<string, string>;
  content: string;
}

export interface Observation {
  queues: Record<string, StoredMessage[]>;
  hostBlobs: HostBlob[];
  invocations: Invocation[];
}

export const HOSTS_CONTAINER = "azure-webjobs-hosts";

export function readInvocations(file: string): Invocation[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Invocation)
    .sort((a, b) => a.at - b.at);
}

export async function observe(blobs: BlobServiceClient, queues: QueueServiceClient, invocationsFile: string): Promise<Observation> {
  const observedQueues: Record<string, StoredMessage[]> = {};
  for await (const queue of queues.listQueues()) {
    const peeked = await queues.getQueueClient(queue.name).peekMessages({ numberOfMessages: 32 });
    observedQueues[queue.name] = peeked.peekedMessageItems.map((message) => ({
      text: message.messageText,
      dequeueCount: message.dequeueCount,
    }));
  }
  const hostBlobs: HostBlob[] = [];
  const hosts = blobs.getContainerClient(HOSTS_CONTAINER);
  if (await hosts.exists()) {
    for await (const item of hosts.listBlobsFlat({ includeMetadata: true })) {
      const content = (await hosts.getBlobClient(item.name).downloadToBuffer()).toString("utf8");
      hostBlobs.push({ name: item.name, metadata: item.metadata ?? {}, content });
    }
  }
  return { queues: observedQueues, hostBlobs, invocations: readInvocations(invocationsFile) };
}

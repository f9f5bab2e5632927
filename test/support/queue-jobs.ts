/**
 * Helpers for the queue pipelines' end-to-end tests: a host.json with fast redelivery, sending
 * base64 JSON as producers do, reading blobs and waiting for them.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { QueueClient } from "@azure/storage-queue";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../../tools/repo-root.js";

/** The project's host.json with these queue settings over it, written to a temporary file. */
export function hostJsonWith(queues: Record<string, unknown>): string {
  const hostJson = JSON.parse(readFileSync(path.join(REPO_ROOT, "host.json"), "utf8")) as {
    extensions: { queues: Record<string, unknown> };
  };
  Object.assign(hostJson.extensions.queues, queues);
  const file = path.join(mkdtempSync(path.join(tmpdir(), "queue-jobs-host-")), "host.json");
  writeFileSync(file, JSON.stringify(hostJson));
  return file;
}

/** How producers send: UTF-8 JSON, base64-encoded (host.json messageEncoding "base64"). */
export async function sendJson(queue: QueueClient, message: unknown): Promise<string> {
  const text = typeof message === "string" ? message : JSON.stringify(message);
  return (await queue.sendMessage(Buffer.from(text, "utf8").toString("base64"))).messageId;
}

export async function readBlob(container: ContainerClient, name: string): Promise<Buffer | undefined> {
  const blob = container.getBlobClient(name);
  if (!(await blob.exists())) return undefined;
  return blob.downloadToBuffer();
}

export async function readJsonBlob<T>(container: ContainerClient, name: string): Promise<T | undefined> {
  const bytes = await readBlob(container, name);
  return bytes ? (JSON.parse(bytes.toString("utf8")) as T) : undefined;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function blobNames(container: ContainerClient, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name);
  return names.sort();
}

export async function queueLength(queue: QueueClient): Promise<number> {
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

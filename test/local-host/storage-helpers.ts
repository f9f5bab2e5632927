import path from "node:path";
import { fileURLToPath } from "node:url";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";

export const storageFixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "storage-app");

/** Polls `check` until it returns a defined value, or throws with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function clients(connectionString: string) {
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  return { blobs, queues, evidence: blobs.getContainerClient("evidence") };
}

/** Evidence JSON as the fixture app writes it; tests read the fields they need. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form JSON written by the fixture app
export type Evidence = { name: string; value: any };

/** Names and parsed JSON of the evidence blobs under a prefix. */
export async function readEvidence(container: ContainerClient, prefix: string): Promise<Evidence[]> {
  const found: Evidence[] = [];
  try {
    for await (const blob of container.listBlobsFlat({ prefix })) {
      const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString("utf8");
      found.push({ name: blob.name, value: JSON.parse(text) });
    }
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  return found;
}

export const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/**
 * The images container's blobs:
 *   {id}/{k}.png  the images, k = 1..n (1-based, as people count them), each whole (one Put Blob)
 *                 with metadata naming the run that made it
 *   {id}.json     the record (revised prompts, content-filter results, the request, usage),
 *                 written last: its presence means every image it lists is there and is its own
 * plus the queue pipelines' `{id}.error.json` and `.handback/` blobs (src/queue-jobs/job-store.ts).
 */
import { JobStore } from "../queue-jobs/job-store.js";

export interface ImageEntry {
  /** 1-based. */
  index: number;
  /** The blob's name in the container. */
  name: string;
  bytes: number;
  revisedPrompt?: string;
  contentFilterResults?: unknown;
  promptFilterResults?: unknown;
}

export interface ImagesRecord {
  id: string;
  images: ImageEntry[];
  request: { prompt: string; size?: string; quality?: string; n: number };
  /** What Azure reports having made (gpt-image-1 answers with the size and quality it chose for `auto`). */
  size?: string;
  quality?: string;
  usage?: unknown;
  /** The routing table's model the request went to. */
  model: string;
  /** The deployment, and the backend (table name), that made the images. */
  deployment: string;
  backend: string;
  createdAt: string;
  /** Hash of what was asked (prompt, size, quality, n, model, createdAt): a redelivery has the same. */
  fingerprint: string;
  /** Which run made the images; each image's metadata names the same. */
  render: string;
}

export function imagesRecordName(id: string): string {
  return `${id}.json`;
}

export function imageName(id: string, index: number): string {
  return `${id}/${index}.png`;
}

export class ImagesStore extends JobStore {
  /** The record for `id` when it describes this very request and every image it lists is that run's: the work is done. */
  async finished(id: string, fingerprint: string): Promise<ImagesRecord | undefined> {
    const record = await this.readJson<ImagesRecord>(imagesRecordName(id));
    if (record?.fingerprint !== fingerprint) return undefined;
    for (const image of record.images) {
      try {
        const properties = await this.container.getBlobClient(image.name).getProperties();
        if (properties.metadata?.render !== record.render) return undefined;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      }
    }
    return record;
  }

  async hasOutput(id: string): Promise<boolean> {
    return this.container.getBlobClient(imagesRecordName(id)).exists();
  }

  /**
   * Removes the record of earlier, different work with this id (so none describes the new
   * images), and its images numbered above `keep` (fewer images this time).
   */
  async removeEarlier(id: string, keep: number): Promise<void> {
    await this.container.getBlockBlobClient(imagesRecordName(id)).deleteIfExists();
    const own = new RegExp(`^${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/(\\d+)\\.png$`);
    for await (const blob of this.container.listBlobsFlat({ prefix: `${id}/` })) {
      const index = own.exec(blob.name)?.[1];
      if (index !== undefined && Number(index) > keep) await this.container.getBlockBlobClient(blob.name).deleteIfExists();
    }
  }

  async writeImage(name: string, png: Buffer, render: string): Promise<void> {
    await this.writeBytes(name, png, "image/png", { metadata: { render } });
  }

  async writeRecord(record: ImagesRecord): Promise<void> {
    await this.writeJson(imagesRecordName(record.id), record);
  }
}

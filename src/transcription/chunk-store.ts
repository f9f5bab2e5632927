/**
 * Finished chunks of one version of an audio file, kept in the transcripts container under
 * `{name}.work/{etag}/{plan}/` until the file is done, so a delivery after a crash or a retryable
 * failure resumes where the last one stopped instead of paying Whisper for the same audio again.
 * `{plan}` fingerprints what a chunk's result depends on besides the bytes (the cut points, which
 * follow TRANSCRIPTION_MAX_CHUNK_BYTES; the options; the deployment): a run whose plan differs
 * starts afresh rather than stitch chunk i of one plan into another.
 */
import { createHash } from "node:crypto";
import type { ContainerClient } from "@azure/storage-blob";
import { readJsonBlob, stripQuotes, writeBlobWhole } from "./blob-io.js";
import type { ChunkResult } from "./whisper.js";

export function workPrefix(name: string, etag: string): string {
  return `${name}.work/${stripQuotes(etag)}/`;
}

/** A short, stable fingerprint of everything a chunk's transcript depends on besides the audio. */
export function planKey(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

export class ChunkStore {
  constructor(
    private readonly container: ContainerClient,
    private readonly name: string,
    private readonly etag: string,
  ) {}

  private chunkBlobName(plan: string, index: number): string {
    return `${workPrefix(this.name, this.etag)}${plan}/chunk-${index}.json`;
  }

  /** The chunks a previous run of this version and plan finished, by index. @throws storage errors. */
  async load(plan: string): Promise<Map<number, ChunkResult>> {
    const found = new Map<number, ChunkResult>();
    const prefix = `${workPrefix(this.name, this.etag)}${plan}/`;
    for await (const item of this.container.listBlobsFlat({ prefix })) {
      const index = Number(/chunk-(\d+)\.json$/.exec(item.name)?.[1]);
      if (!Number.isInteger(index)) continue;
      // A damaged record (cut off by a kill) reads as absent: that chunk is simply done again.
      const result = await readJsonBlob<ChunkResult>(this.container.getBlockBlobClient(item.name));
      if (result) found.set(index, result);
    }
    return found;
  }

  /** Keeps one finished chunk. @throws storage errors. */
  async save(plan: string, index: number, result: ChunkResult): Promise<void> {
    await writeBlobWhole(
      this.container.getBlockBlobClient(this.chunkBlobName(plan, index)),
      JSON.stringify(result),
      "application/json; charset=utf-8",
      this.etag,
    );
  }

  /** Removes this version's chunks, of every plan, once the file is done, for good or for ill. @throws storage errors. */
  async clear(): Promise<void> {
    const prefix = workPrefix(this.name, this.etag);
    for await (const item of this.container.listBlobsFlat({ prefix })) {
      await this.container.getBlockBlobClient(item.name).deleteIfExists();
    }
  }
}

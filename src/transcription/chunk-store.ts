/**
 * Finished chunks of one version of an audio file, kept in the transcripts container under
 * `{name}.work/{etag}/` until the file is done, so a delivery after a crash or a retryable failure
 * resumes where the last one stopped instead of paying Whisper for the same audio again. The
 * chunk plan depends only on the bytes, so chunk i of a version is the same audio on every run.
 */
import type { ContainerClient } from "@azure/storage-blob";
import { readJsonBlob, stripQuotes, writeBlobWhole } from "./blob-io.js";
import type { ChunkResult } from "./whisper.js";

export function workPrefix(name: string, etag: string): string {
  return `${name}.work/${stripQuotes(etag)}/`;
}

function chunkBlobName(name: string, etag: string, index: number): string {
  return `${workPrefix(name, etag)}chunk-${index}.json`;
}

export class ChunkStore {
  constructor(
    private readonly container: ContainerClient,
    private readonly name: string,
    private readonly etag: string,
  ) {}

  /** The chunks a previous run of this version finished, by index. @throws storage errors. */
  async load(): Promise<Map<number, ChunkResult>> {
    const found = new Map<number, ChunkResult>();
    const prefix = workPrefix(this.name, this.etag);
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
  async save(index: number, result: ChunkResult): Promise<void> {
    await writeBlobWhole(this.container.getBlockBlobClient(chunkBlobName(this.name, this.etag, index)), JSON.stringify(result), "application/json; charset=utf-8", this.etag);
  }

  /** Removes this version's chunks once the file is done, for good or for ill. @throws storage errors. */
  async clear(): Promise<void> {
    const prefix = workPrefix(this.name, this.etag);
    for await (const item of this.container.listBlobsFlat({ prefix })) {
      await this.container.getBlockBlobClient(item.name).deleteIfExists();
    }
  }
}

/**
 * Whole-or-nothing blob writes and JSON reads. A single Put Blob (BlockBlobClient.upload) replaces
 * the blob atomically: readers see the old content or the new, never part of it, and a crash
 * mid-upload leaves the old blob. Outputs are small (transcripts are text), far under Put Blob's
 * size limit, so no staged blocks are needed.
 */
import { RestError, type BlobClient, type BlobRequestConditions, type BlockBlobClient } from "@azure/storage-blob";

/** Metadata key on every output and status blob: the ETag of the audio blob it was made from. */
export const SOURCE_ETAG_KEY = "sourceetag";

/**
 * Writes `content` as the whole blob in one request, if `conditions` hold; returns the new ETag.
 * @throws RestError from storage (classifyError maps it by status; 412/409 when a condition failed).
 */
export async function writeBlobWhole(
  blob: BlockBlobClient,
  content: string,
  contentType: string,
  sourceEtag: string | undefined,
  conditions?: BlobRequestConditions,
): Promise<{ etag?: string }> {
  const body = Buffer.from(content, "utf8");
  return blob.upload(body, body.byteLength, {
    blobHTTPHeaders: { blobContentType: contentType },
    metadata: sourceEtag ? { [SOURCE_ETAG_KEY]: stripQuotes(sourceEtag) } : {},
    ...(conditions ? { conditions } : {}),
  });
}

/**
 * Reads and parses a JSON blob; undefined when it does not exist or is not JSON. A damaged record
 * (Azurite can keep a Put Blob cut off by a killed process) is treated as absent and rewritten,
 * rather than failing every later delivery of the blob.
 */
export async function readJsonBlob<T>(blob: BlockBlobClient): Promise<T | undefined> {
  return (await readJsonBlobWithEtag<T>(blob)).value;
}

/**
 * Reads and parses a JSON blob with the ETag of what was read, for a write conditional on it; the
 * ETag is undefined when the blob does not exist (write with If-None-Match: *).
 */
export async function readJsonBlobWithEtag<T>(blob: BlockBlobClient): Promise<{ value: T | undefined; etag: string | undefined }> {
  let response;
  try {
    response = await blob.download();
  } catch (error) {
    if (isNotFound(error)) return { value: undefined, etag: undefined };
    throw error;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.from(chunk as Buffer));
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString("utf8")) as T, etag: response.etag };
  } catch {
    // Damaged (see readJsonBlob): treated as absent, but replaced only if still the same bytes.
    return { value: undefined, etag: response.etag };
  }
}

/** Storage's answer to a write whose condition failed: 412, or 409 when If-None-Match: * met a blob. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode === 412 || (error.statusCode === 409 && error.code === "BlobAlreadyExists"));
}

/** A blob's ETag now, unquoted, or undefined when it does not exist. @throws other storage errors. */
export async function currentEtag(blob: BlobClient): Promise<string | undefined> {
  try {
    return stripQuotes((await blob.getProperties()).etag ?? "");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The source ETag an output was written from, or undefined when the blob is missing. */
export async function readSourceEtag(blob: BlockBlobClient): Promise<string | undefined> {
  try {
    const properties = await blob.getProperties();
    return properties.metadata?.[SOURCE_ETAG_KEY];
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 404;
}

/** ETags arrive quoted from storage and unquoted from some trigger payloads; compare them bare. */
export function stripQuotes(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

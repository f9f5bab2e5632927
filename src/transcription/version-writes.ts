/**
 * Output writes that a run for an older version of the audio blob can never win. Each output
 * carries the ETag of the audio it was made from (metadata `sourceetag`). A run replaces an output
 * only if the output is its own version's, or if its version is the blob's current one, checked
 * after reading the output's ETag; the write is conditional on that ETag. So if a newer version's
 * run writes the output in between, this write fails, and the check, made again, says this
 * version is no longer current: the run stands down and the newer output stays.
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import { isConditionFailed, isNotFound, SOURCE_ETAG_KEY, stripQuotes, writeBlobWhole } from "./blob-io.js";
import { SupersededError } from "./status.js";

/** Rounds of read, check and conditional write before giving the failure to the host. */
const ROUNDS = 4;

export interface VersionedWriteDeps {
  /** Whether `etag` is still the audio blob's current version. */
  isCurrent: () => Promise<boolean>;
}

interface Found {
  etag: string | undefined;
  sourceEtag: string | undefined;
}

async function inspect(blob: BlockBlobClient): Promise<Found> {
  try {
    const properties = await blob.getProperties();
    return { etag: properties.etag, sourceEtag: properties.metadata?.[SOURCE_ETAG_KEY] };
  } catch (error) {
    if (isNotFound(error)) return { etag: undefined, sourceEtag: undefined };
    throw error;
  }
}

/**
 * Writes `content` as the output of version `etag`, unless a newer version owns the output.
 * @throws SupersededError when this version is no longer current; storage errors as they come.
 */
export async function writeForVersion(
  deps: VersionedWriteDeps,
  blob: BlockBlobClient,
  content: string,
  contentType: string,
  etag: string,
): Promise<void> {
  for (let round = 1; ; round++) {
    const found = await inspect(blob);
    if (found.sourceEtag !== stripQuotes(etag) && !(await deps.isCurrent())) throw overwritten(etag, blob.name);
    try {
      await writeBlobWhole(blob, content, contentType, etag, found.etag ? { ifMatch: found.etag } : { ifNoneMatch: "*" });
      return;
    } catch (error) {
      if (!isConditionFailed(error) || round >= ROUNDS) throw error;
    }
  }
}

/**
 * Removes an output left by another version of the audio (an older transcript beside a newer
 * version's status), if this version is the current one.
 * @returns whether a stale output was removed.
 * @throws SupersededError when this version is no longer current; storage errors as they come.
 */
export async function removeIfStale(deps: VersionedWriteDeps, blob: BlockBlobClient, etag: string): Promise<boolean> {
  for (let round = 1; ; round++) {
    const found = await inspect(blob);
    if (!found.etag || found.sourceEtag === stripQuotes(etag)) return false;
    if (!(await deps.isCurrent())) throw overwritten(etag, blob.name);
    try {
      await blob.delete({ conditions: { ifMatch: found.etag } });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      if (!isConditionFailed(error) || round >= ROUNDS) throw error;
    }
  }
}

function overwritten(etag: string, name: string): SupersededError {
  return new SupersededError(
    `the audio blob was overwritten while version ${stripQuotes(etag)} was being transcribed, so ${name} is left to the newer version`,
    true,
  );
}

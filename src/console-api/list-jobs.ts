/**
 * The recent transcription jobs for the console: the newest audio blobs with their status records
 * (the same answer as GET /api/transcriptions/{name}), with links rewritten to the app's own
 * endpoints, because the records' raw blob URLs cannot be read by a browser without storage rights.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import { getTranscriptionStatus } from "../transcription/status-query.js";
import { statusBlobName, type TranscriptionStatus } from "../transcription/status.js";

/** Audio blobs looked at when picking the newest: a bound on the listing's cost for a container with very many files. */
const MAX_LISTED = 5000;

export interface JobListDeps {
  blobService: BlobServiceClient;
  audioContainer: string;
  transcriptsContainer: string;
}

export type ConsoleJob = TranscriptionStatus & {
  /** App URLs (paths under /api) of the status record and every output, readable with the function key. */
  links: Record<string, string>;
};

/**
 * The `limit` newest audio blobs (by last modification) with their status, newest first.
 * @throws storage errors as they come; a missing audio container is an empty list.
 */
export async function listRecentJobs(deps: JobListDeps, limit: number): Promise<ConsoleJob[]> {
  const audio = deps.blobService.getContainerClient(deps.audioContainer);
  const blobs: { name: string; lastModified: number }[] = [];
  try {
    for await (const blob of audio.listBlobsFlat()) {
      blobs.push({ name: blob.name, lastModified: blob.properties.lastModified.getTime() });
      if (blobs.length >= MAX_LISTED) break;
    }
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return [];
    throw error;
  }
  blobs.sort((a, b) => b.lastModified - a.lastModified || a.name.localeCompare(b.name));
  const answers = await Promise.all(blobs.slice(0, limit).map((blob) => getTranscriptionStatus(deps, blob.name)));
  return answers.flatMap((answer) => (answer.found ? [withAppLinks(answer.status)] : []));
}

/** Replaces the record's storage URLs by the console's read endpoint for the transcripts container. */
function withAppLinks(status: TranscriptionStatus & { links: Record<string, string> }): ConsoleJob {
  const { links: _storageUrls, claim: _claim, ...rest } = status;
  const links: Record<string, string> = {};
  const appUrl = (blobName: string) => `/api/jobs/blobs/transcripts/${blobName.split("/").map(encodeURIComponent).join("/")}`;
  if (status.state !== "queued" || status.attempts > 0) links.status = appUrl(statusBlobName(status.name));
  for (const [format, blobName] of Object.entries(status.outputs)) if (blobName) links[format] = appUrl(blobName);
  return { ...rest, links };
}

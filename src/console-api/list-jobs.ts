/**
 * The recent transcription jobs for the console: the newest audio blobs with their status records
 * (the same answer as GET /api/transcriptions/{name}), with links rewritten to the app's own
 * endpoints, because the records' raw blob URLs cannot be read by a browser without storage rights.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import { getTranscriptionStatus } from "../transcription/status-query.js";
import { statusBlobName, type TranscriptionStatus } from "../transcription/status.js";

/**
 * Audio blobs looked at when picking the newest: one page of Blob storage's listing, a bound on
 * the cost of a call the console makes every few seconds. Storage lists by name, not by time, so
 * in a container with more files the newest may be among those not looked at: the answer says so.
 */
export const MAX_LISTED = 5000;

export interface JobListDeps {
  blobService: BlobServiceClient;
  audioContainer: string;
  transcriptsContainer: string;
  /** MAX_LISTED unless given (tests). */
  maxListed?: number;
}

export interface RecentJobs {
  jobs: ConsoleJob[];
  /** The container holds more audio than was looked at: newer jobs may be missing from `jobs`. */
  hasMore: boolean;
  /** How many audio blobs were looked at. */
  listed: number;
}

export type ConsoleJob = TranscriptionStatus & {
  /** App URLs (paths under /api) of the status record and every output, readable with the function key. */
  links: Record<string, string>;
};

/**
 * The `limit` newest audio blobs (by last modification) among the first `maxListed` by name, with
 * their status, newest first.
 * @throws storage errors as they come; a missing audio container is an empty list.
 */
export async function listRecentJobs(deps: JobListDeps, limit: number): Promise<RecentJobs> {
  const maxListed = deps.maxListed ?? MAX_LISTED;
  const audio = deps.blobService.getContainerClient(deps.audioContainer);
  const blobs: { name: string; lastModified: number }[] = [];
  let hasMore = false;
  try {
    // One page of up to maxListed names, and its continuation token says whether there are more.
    const first = await audio.listBlobsFlat().byPage({ maxPageSize: maxListed }).next();
    const page = first.done ? undefined : first.value;
    for (const blob of page?.segment.blobItems ?? []) blobs.push({ name: blob.name, lastModified: blob.properties.lastModified.getTime() });
    hasMore = Boolean(page?.continuationToken);
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return { jobs: [], hasMore: false, listed: 0 };
    throw error;
  }
  blobs.sort((a, b) => b.lastModified - a.lastModified || a.name.localeCompare(b.name));
  const answers = await Promise.all(blobs.slice(0, limit).map((blob) => getTranscriptionStatus(deps, blob.name)));
  return { jobs: answers.flatMap((answer) => (answer.found ? [withAppLinks(answer.status)] : [])), hasMore, listed: blobs.length };
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

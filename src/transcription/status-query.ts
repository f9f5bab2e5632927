/**
 * Answers "what happened to audio/{name}?" from the status record, with links to the outputs. An
 * audio blob without a record yet, or overwritten since its record was written, is reported as
 * `queued`: it is uploaded and waits for the trigger.
 */
import type { BlobClient, BlobGetPropertiesResponse, BlobServiceClient } from "@azure/storage-blob";
import { BadInputError } from "../errors.js";
import { isNotFound } from "./blob-io.js";
import { readStatus, statusBlobName, type TranscriptionStatus } from "./status.js";

export type StatusAnswer =
  { found: true; status: TranscriptionStatus & { links: Record<string, string> } } | { found: false; message: string };

export interface StatusQueryDeps {
  blobService: BlobServiceClient;
  audioContainer: string;
  transcriptsContainer: string;
}

/**
 * Reads the status of one audio blob.
 * @throws BadInputError for an empty or malformed name; storage errors as they come (classifyError maps them).
 */
export async function getTranscriptionStatus(deps: StatusQueryDeps, name: string): Promise<StatusAnswer> {
  if (!name || name.length > 1024 || name.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new BadInputError(
      `"${name}" is not a blob name; use the name of the file in the ${deps.audioContainer} container, e.g. meeting.wav or 2024/call.mp3`,
      { param: "name" },
    );
  }
  const transcripts = deps.blobService.getContainerClient(deps.transcriptsContainer);
  const source = deps.blobService.getContainerClient(deps.audioContainer).getBlobClient(name);
  const [status, properties] = await Promise.all([readStatus(transcripts, name), sourceProperties(source)]);
  const urlOf = (blobName: string) => transcripts.getBlobClient(blobName).url;
  const currentEtag = properties?.etag?.replace(/^"|"$/g, "");
  // A record made from an older version of the blob says nothing about the version uploaded since,
  // so a client polling after an overwrite must not see the old version's "succeeded".
  if (status && (!currentEtag || !status.source.etag || status.source.etag === currentEtag)) {
    const links: Record<string, string> = { status: urlOf(statusBlobName(name)) };
    for (const [format, blobName] of Object.entries(status.outputs)) if (blobName) links[format] = urlOf(blobName);
    links.source = source.url;
    return { found: true, status: { ...status, links } };
  }
  if (properties) {
    const now = new Date().toISOString();
    return {
      found: true,
      status: {
        name,
        state: "queued",
        source: { container: deps.audioContainer, name, etag: currentEtag, bytes: properties.contentLength },
        progress: { chunksDone: 0, chunksTotal: 0 },
        attempts: 0,
        timings: { uploadedAt: properties.lastModified?.toISOString() },
        outputs: {},
        updatedAt: now,
        links: { source: source.url },
      },
    };
  }
  return {
    found: false,
    message: `No transcription for "${name}": there is no blob ${deps.audioContainer}/${name} and no status record. Upload the audio to the ${deps.audioContainer} container first.`,
  };
}

/** The audio blob's properties, or undefined when it does not exist. */
async function sourceProperties(source: BlobClient): Promise<BlobGetPropertiesResponse | undefined> {
  try {
    return await source.getProperties();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

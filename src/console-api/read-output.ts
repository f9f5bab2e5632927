/**
 * Reads one output blob for the console. The answer's content type comes from the name's extension
 * out of a fixed list (never from the blob's own properties), and every answer forbids sniffing and
 * runs sandboxed, so a blob can never become a page with the app's origin.
 */
import type { BlobServiceClient } from "@azure/storage-blob";

const TYPES: Record<string, string> = {
  json: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  srt: "text/plain; charset=utf-8",
  vtt: "text/vtt; charset=utf-8",
  png: "image/png",
  jpeg: "image/jpeg",
  jpg: "image/jpeg",
  webp: "image/webp",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  opus: "audio/ogg",
  aac: "audio/aac",
  flac: "audio/flac",
  pcm: "application/octet-stream",
};

export type OutputAnswer = { found: true; headers: Record<string, string>; body: Buffer } | { found: false; message: string };

/**
 * @throws storage errors other than 404, as they come.
 */
export async function readOutput(blobService: BlobServiceClient, container: string, name: string): Promise<OutputAnswer> {
  let body: Buffer;
  try {
    body = await blobService.getContainerClient(container).getBlobClient(name).downloadToBuffer();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      return {
        found: false,
        message: `${container}/${name} does not exist (yet): the job may still be running, or wrote nothing by that name.`,
      };
    }
    throw error;
  }
  const extension = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  const type = TYPES[extension] ?? "application/octet-stream";
  return {
    found: true,
    body,
    headers: {
      "content-type": type,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; sandbox",
      ...(type === "application/octet-stream" ? { "content-disposition": "attachment" } : {}),
    },
  };
}

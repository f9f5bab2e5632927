/**
 * Streams an upload into the audio container with the transcription options as blob metadata, as
 * `npm run send -- upload` does from a shell, but through the app's own identity: the browser never
 * holds a storage key or SAS. The body is never buffered whole, so uploads up to
 * HTTP_MAX_AUDIO_BYTES (200 MiB by default) cost a few MB of memory.
 */
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { BlobServiceClient } from "@azure/storage-blob";
import { BadInputError } from "../errors.js";
import { REQUEST_TOO_LARGE } from "../failure-actions.js";
import { OPTION_KEYS } from "../transcription/options.js";

/** The metadata keys the blob pipeline reads (docs/transcription.md, Options); anything else is refused rather than ignored. */
export const AUDIO_OPTION_KEYS: readonly string[] = OPTION_KEYS;

/** Block size and blocks in flight of the staged upload: 4 MiB x 4 keeps memory at about 16 MiB per upload. */
const BLOCK_BYTES = 4 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 4;

export interface AudioUpload {
  name: string;
  body: ReadableStream<Uint8Array> | null;
  /** The request's content-length, when it declared one. */
  declaredBytes: number | undefined;
  contentType: string | undefined;
  /** Query parameters; only AUDIO_OPTION_KEYS are accepted. */
  options: URLSearchParams;
}

export interface UploadTarget {
  blobService: BlobServiceClient;
  container: string;
  maxBytes: number;
}

/**
 * Uploads the body as `{container}/{name}`, replacing a blob of that name (which starts a new transcription).
 * @returns the bytes written and the blob's new ETag.
 * @throws BadInputError for an unknown option key, an empty body (`empty_upload`) or a body over `maxBytes` (`request_too_large`, 413);
 *   storage errors as they come.
 */
export async function uploadAudio(target: UploadTarget, upload: AudioUpload): Promise<{ bytes: number; etag: string | undefined }> {
  const metadata = audioMetadata(upload.options);
  const tooLarge = () =>
    new BadInputError(`The upload is larger than ${target.maxBytes} bytes; send a smaller file, or raise HTTP_MAX_AUDIO_BYTES`, {
      code: REQUEST_TOO_LARGE,
    });
  if (upload.declaredBytes !== undefined && upload.declaredBytes > target.maxBytes) throw tooLarge();
  if (!upload.body || upload.declaredBytes === 0) throw emptyUpload();

  let bytes = 0;
  let overLimit: BadInputError | undefined;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.byteLength;
      if (bytes > target.maxBytes) {
        overLimit = tooLarge();
        done(overLimit);
        return;
      }
      done(null, chunk);
    },
  });
  // The first bytes are awaited before anything is written: the SDK commits a block list even for
  // an empty stream, which would replace an existing blob of that name with nothing.
  const reader = (upload.body as WebReadableStream<Uint8Array>).getReader();
  let first = await reader.read();
  while (!first.done && first.value.byteLength === 0) first = await reader.read();
  if (first.done) throw emptyUpload();
  const firstBytes = first.value;
  async function* body(): AsyncGenerator<Uint8Array> {
    yield firstBytes;
    for (let next = await reader.read(); !next.done; next = await reader.read()) yield next.value;
  }
  const source = Readable.from(body(), { objectMode: false });
  source.on("error", (error) => counter.destroy(error));
  source.pipe(counter);

  const container = target.blobService.getContainerClient(target.container);
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(upload.name);
  try {
    // Blocks are staged and committed at the end: a broken or oversized upload commits nothing, so the trigger never sees half a file.
    const answer = await blob.uploadStream(counter, BLOCK_BYTES, BLOCKS_IN_FLIGHT, {
      metadata,
      blobHTTPHeaders: { blobContentType: audioContentType(upload.contentType) },
    });
    return { bytes, etag: answer.etag?.replace(/^"|"$/g, "") };
  } catch (error) {
    if (overLimit) {
      // Read the rest and drop it rather than cancel: unread bytes would stall the host's connection
      // to the worker for the next request (src/http/request-body.ts says the same).
      source.unpipe(counter);
      source.resume();
      throw overLimit;
    }
    throw error;
  }
}

/**
 * The blob metadata for the options given as query parameters. Blob metadata holds ASCII only, so a
 * value outside it is stored percent-encoded, which the pipeline decodes (docs/transcription.md).
 * @throws BadInputError listing every key the pipeline does not read.
 */
export function audioMetadata(options: URLSearchParams): Record<string, string> {
  const metadata: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [key, value] of options) {
    const lower = key.toLowerCase();
    if (lower === "code") continue; // the function key, when sent as ?code=
    if (!AUDIO_OPTION_KEYS.includes(lower)) {
      unknown.push(key);
      continue;
    }
    if (value === "") continue;
    metadata[lower] = /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
  }
  if (unknown.length > 0) {
    throw new BadInputError(
      `Unknown transcription option${unknown.length > 1 ? "s" : ""} ${unknown.map((key) => `"${key}"`).join(", ")}; the options are ${AUDIO_OPTION_KEYS.join(", ")}`,
      { code: "invalid_options", param: unknown[0] },
    );
  }
  return metadata;
}

/** The browser's type when it names audio or video, else a neutral one: the pipeline reads the format from the bytes anyway. */
function audioContentType(declared: string | undefined): string {
  const type = declared?.split(";")[0]?.trim().toLowerCase();
  return type && /^(audio|video)\/[\w.+-]+$/.test(type) ? type : "application/octet-stream";
}

function emptyUpload(): BadInputError {
  return new BadInputError("The upload is empty; choose an audio file (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm)", {
    code: "empty_upload",
  });
}

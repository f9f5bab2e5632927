/**
 * Reads an OpenAI audio upload (multipart/form-data: a `file` part and text fields) from the
 * request body as it streams in, with busboy, and keeps the file's bytes in one buffer.
 *
 * What is streamed and what is not:
 * - The request body is read as a stream (`app.setup({ enableHttpStream: true })` makes the
 *   Functions host hand the worker the body as a ReadableStream instead of one buffered message),
 *   and busboy parses it part by part: the text fields, the multipart framing and anything over
 *   the limit are never held whole, and an upload over HTTP_MAX_AUDIO_BYTES is refused (413) as
 *   soon as its file part passes the limit, without keeping it.
 * - The audio itself is kept whole in memory. Chunk planning needs the whole file: WAV cuts look
 *   for the quietest stretch before each 25 MB mark, MP3 cuts need every frame's position and
 *   size, and the formats that cannot be split must be sent as one file. So memory holds the file
 *   once: when the request declares its length, the buffer is allocated once at that size (an
 *   upper bound of the file's, never over the limit) and filled as the parts arrive; without a
 *   declared length, the parts are collected and joined at the end (the file twice, briefly).
 *   Chunks are views into this buffer, uploaded to Azure without copies (whisper.ts).
 */
import busboy from "busboy";
import { Readable } from "node:stream";
import { BadInputError, CancelledError } from "../errors.js";
import { REQUEST_TOO_LARGE } from "../failure-actions.js";
import type { BodySource } from "./request-body.js";

export interface UploadedAudio {
  /** The file's bytes, exactly as sent. */
  bytes: Uint8Array;
  /** The file name the client gave (only for log lines: the format is read from the bytes). */
  fileName: string;
}

export interface AudioUpload {
  /** Text fields by name, in order; a repeated name (`timestamp_granularities[]`) has several values. */
  fields: Map<string, string[]>;
  file: UploadedAudio | undefined;
}

/**
 * OpenAI's audio requests have a handful of fields; the largest is a known speaker reference of
 * the diarize model, a data URL of up to 10 s of audio (44.1 kHz 16-bit mono WAV: 882 kB, 1.2 MB
 * as base64).
 */
const MAX_FIELD_BYTES = 2 * 1024 * 1024;
/** The multipart framing and text fields allowed beside the file in a declared length: up to 4 references and the rest. */
const FIELDS_ALLOWANCE_BYTES = 4 * MAX_FIELD_BYTES + 1024 * 1024;
const MAX_FIELDS = 32;

/**
 * Reads the multipart upload.
 * @throws BadInputError with code `request_too_large` (413) when the file is over `maxAudioBytes`
 *   (or the declared body is over it by more than the fields could take), `invalid_content_type`
 *   when the body is not multipart/form-data, `invalid_multipart` when it is malformed or holds
 *   a second file; CancelledError when `signal` aborts (the caller hung up) while it is read.
 */
export async function readAudioUpload(request: BodySource, maxAudioBytes: number, signal: AbortSignal): Promise<AudioUpload> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new BadInputError(
      `The request's content type is ${contentType ? `'${contentType}'` : "missing"}; send multipart/form-data with the audio in a 'file' part (as the openai clients do)`,
      { code: "invalid_content_type" },
    );
  }
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxAudioBytes + FIELDS_ALLOWANCE_BYTES) throw tooLarge(maxAudioBytes);
  if (signal.aborted) throw new CancelledError(signal.reason);

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      limits: { fileSize: maxAudioBytes, files: 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES },
    });
  } catch (error) {
    throw new BadInputError(`The multipart/form-data body cannot be read: ${(error as Error).message}`, { code: "invalid_multipart" });
  }

  const fields = new Map<string, string[]>();
  let file: UploadedAudio | undefined;
  let problem: BadInputError | undefined;
  let fileDone: Promise<void> = Promise.resolve();
  parser.on("field", (name, value, info) => {
    if (info.valueTruncated)
      problem ??= new BadInputError(`The field '${name}' is over ${MAX_FIELD_BYTES} bytes`, { param: name, code: "invalid_value" });
    fields.set(name, [...(fields.get(name) ?? []), value]);
  });
  parser.on(
    "fieldsLimit",
    () => (problem ??= new BadInputError(`The form has more than ${MAX_FIELDS} fields`, { code: "invalid_multipart" })),
  );
  parser.on(
    "filesLimit",
    () =>
      (problem ??= new BadInputError("The form holds more than one file; send one 'file' part", {
        param: "file",
        code: "invalid_multipart",
      })),
  );
  parser.on("file", (name, stream, info) => {
    if (name !== "file") {
      problem ??= new BadInputError(`The form has a file in '${name}'; send the audio as the 'file' part`, {
        param: name,
        code: "unknown_parameter",
      });
      stream.resume();
      return;
    }
    const collector = new FileCollector(Number.isFinite(declared) ? Math.min(declared, maxAudioBytes) : undefined);
    fileDone = new Promise((resolve) => {
      stream.on("data", (part: Buffer) => collector.add(part));
      stream.on("limit", () => (problem ??= tooLarge(maxAudioBytes)));
      stream.on("close", () => {
        if (!stream.truncated) file = { bytes: collector.bytes(), fileName: info.filename ?? "audio" };
        resolve();
      });
    });
  });

  const finished = new Promise<void>((resolve, reject) => {
    parser.on("close", resolve);
    parser.on("error", (error: Error) =>
      reject(new BadInputError(`The multipart/form-data body is malformed: ${error.message}`, { code: "invalid_multipart" })),
    );
  });
  try {
    await pipeBody(request.body, parser, signal);
    await finished;
    await fileDone;
  } catch (error) {
    if (signal.aborted) throw new CancelledError(signal.reason);
    throw error;
  }
  if (signal.aborted) throw new CancelledError(signal.reason);
  if (problem) throw problem;
  return { fields, file };
}

/** Writes the body into the parser, honouring its backpressure, until the end or the signal. */
async function pipeBody(body: ReadableStream<Uint8Array> | null, parser: busboy.Busboy, signal: AbortSignal): Promise<void> {
  if (!body) {
    parser.end();
    return;
  }
  // The web stream as a Node stream, so pipe() paces the reads by the parser's consumption.
  const source = Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>, { signal });
  await new Promise<void>((resolve, reject) => {
    source.once("error", reject);
    parser.once("error", reject);
    parser.once("close", resolve);
    source.pipe(parser);
  });
}

/**
 * Keeps the file's parts: in one buffer allocated at the declared size when there is one (the
 * file is never copied again), else as a list joined once at the end.
 */
class FileCollector {
  private buffer: Buffer | undefined;
  private parts: Buffer[] = [];
  private length = 0;

  constructor(expectedMaxBytes: number | undefined) {
    // Pages of an unsafe allocation cost memory only once written, so a declared length that
    // overstates the file (fields, framing) costs nothing much.
    if (expectedMaxBytes !== undefined && expectedMaxBytes > 0) this.buffer = Buffer.allocUnsafe(expectedMaxBytes);
  }

  add(part: Buffer): void {
    if (this.buffer && this.length + part.byteLength > this.buffer.byteLength) {
      // The declared length lied (or was for a different encoding): fall back to the list.
      this.parts = [this.buffer.subarray(0, this.length)];
      this.buffer = undefined;
    }
    if (this.buffer) part.copy(this.buffer, this.length);
    else this.parts.push(part);
    this.length += part.byteLength;
  }

  bytes(): Uint8Array {
    return this.buffer ? this.buffer.subarray(0, this.length) : Buffer.concat(this.parts, this.length);
  }
}

function tooLarge(maxAudioBytes: number): BadInputError {
  return new BadInputError(
    `The audio file is larger than ${maxAudioBytes} bytes (HTTP_MAX_AUDIO_BYTES); send a shorter or more compressed recording ` +
      `(e.g. mono MP3 at 64 kbit/s), or upload it to the audio container, where the blob pipeline transcribes files of any size`,
    { param: "file", code: REQUEST_TOO_LARGE },
  );
}

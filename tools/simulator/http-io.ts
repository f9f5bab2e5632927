/**
 * The simulator's HTTP input and output, shared by the data plane and the control API: reading
 * request bodies (JSON, and multipart uploads with Azure's 25 MiB limit) and writing answers
 * (JSON, whole bodies that the `drop` fault may cut short, the 500 of a simulator bug). Request
 * handlers throw SimulatorHttpError for a bad body; what it says is what Azure would answer.
 */
import busboy from "busboy";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isObject } from "./deployments.js";
import { SimulatorHttpError, invalidRequest } from "./errors.js";
import type { ActiveFaults } from "./faults.js";
import type { MultipartBody } from "./transcription.js";

/** Azure's limit on an audio upload: 25 MiB. */
export const MAX_AUDIO_BYTES = 25 * 1024 * 1024;
const MAX_JSON_BYTES = 64 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Answers a failure no handler expected (a simulator bug) with a 500 naming it, or cuts the connection when the answer has started. */
export function sendInternalError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, 500, { error: { code: "InternalServerError", message: `Simulator bug: ${(error as Error)?.stack ?? String(error)}` } });
}

/** Writes a whole body, or, under the `drop` fault, the headers and half the body before cutting the connection. */
export function writeBody(
  res: ServerResponse,
  status: number,
  type: string,
  body: Buffer | string,
  headers: Record<string, string>,
  faults: ActiveFaults,
  onDrop: () => void,
): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, "content-type": type, "content-length": bytes.length });
  if (faults.dropAfterTokens !== undefined) {
    onDrop();
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => res.socket?.destroy(), 5));
    return;
  }
  res.end(bytes);
}

async function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw invalidRequest(`Request body too large: over ${limit} bytes.`, null, "request_too_large", 413);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** @throws SimulatorHttpError 400 when the body is not a JSON object. */
export async function readJson(req: IncomingMessage, allowEmpty = false): Promise<Record<string, unknown>> {
  const raw = await readRaw(req, MAX_JSON_BYTES);
  if (raw.length === 0 && allowEmpty) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  }
  if (!isObject(parsed)) throw invalidRequest("The request body must be a JSON object.");
  return parsed;
}

/** Which file parts a multipart operation takes, and how big each may be. */
export interface MultipartLimits {
  /** Form names of the file parts kept; other file parts are read and dropped. */
  fileFields: readonly string[];
  maxFiles: number;
  maxFileBytes: number;
}

/** Transcriptions and translations: one `file` part up to Azure's 25 MiB. */
export const AUDIO_UPLOAD: MultipartLimits = { fileFields: ["file"], maxFiles: 1, maxFileBytes: MAX_AUDIO_BYTES };

/**
 * Parses a multipart upload with busboy: form fields (repeated names become arrays) and the file
 * parts `limits` names (the first `file` part as `file`, all of them in `files`), each read up to
 * `limits.maxFileBytes`.
 * @throws SimulatorHttpError 400 when the body is not multipart, 413 over the size limit.
 */
export function readMultipart(req: IncomingMessage, limits: MultipartLimits = AUDIO_UPLOAD): Promise<MultipartBody> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // Fields up to 4 MB: a known speaker reference is a data URL of up to 10 s of audio (busboy's default is 1 MB).
      parser = busboy({
        headers: req.headers,
        limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fields: 100, fieldSize: 4 * 1024 * 1024 },
      });
    } catch {
      reject(invalidRequest(`This operation takes multipart/form-data with a '${limits.fileFields[0]}' part.`, limits.fileFields[0]));
      req.resume();
      return;
    }
    const fields: Record<string, string | string[]> = {};
    const files: NonNullable<MultipartBody["files"]> = [];
    let tooLarge = 0;
    const pending: Promise<void>[] = [];
    parser.on("field", (name, value) => {
      const previous = fields[name];
      fields[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
    });
    parser.on("file", (name, stream, info) => {
      if (!limits.fileFields.includes(name)) {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      pending.push(
        new Promise((done) => {
          stream.on("data", (chunk: Buffer) => {
            size += chunk.length;
            chunks.push(chunk);
          });
          stream.on("limit", () => (tooLarge = limits.maxFileBytes + 1));
          stream.on("close", () => {
            if (tooLarge) tooLarge = size + 1;
            else files.push({ field: name, name: info.filename ?? "file", contentType: info.mimeType, data: Buffer.concat(chunks) });
            done();
          });
        }),
      );
    });
    parser.on("error", (error: Error) => reject(invalidRequest(`Malformed multipart body: ${error.message}`, limits.fileFields[0])));
    parser.on("close", () => {
      void Promise.all(pending).then(() => {
        if (tooLarge) {
          // Keep reading what the client still sends, so it gets the answer rather than a reset.
          reject(
            new SimulatorHttpError(413, {
              error: {
                message: `Maximum content size limit (${limits.maxFileBytes}) exceeded (${Number(req.headers["content-length"] ?? tooLarge)} bytes read)`,
                type: "server_error",
                param: null,
                code: null,
              },
            }),
          );
        } else {
          const file = files.find((part) => part.field === "file");
          resolve({ fields, ...(file ? { file: { name: file.name, contentType: file.contentType, data: file.data } } : {}), files });
        }
      });
    });
    req.pipe(parser);
  });
}

import { BadInputError } from "../errors.js";
import { depthProblem } from "../json-depth.js";
import { REQUEST_TOO_LARGE } from "../failure-actions.js";

/** The parts of an HTTP request (Functions' HttpRequest, or a fetch Request) the body reader needs. */
export interface BodySource {
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
}

/**
 * Reads the request body as a JSON object, refusing to buffer more than `maxBytes`: a declared
 * `content-length` over the limit is refused before reading, and a body without one is kept only
 * up to the limit (the rest is read and dropped), so an oversized upload can't exhaust memory.
 * @throws BadInputError with code `request_too_large` (answered 413) when the body is over `maxBytes`;
 *   with code `invalid_json` when it is empty, not UTF-8, not JSON, or JSON but not an object; with
 *   code `json_too_deep` when it nests deeper than MAX_JSON_DEPTH.
 */
export async function readJsonObject(request: BodySource, maxBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readBounded(request.body, maxBytes);
  if (bytes.length === 0) {
    throw new BadInputError('The request body is empty; send a JSON object, e.g. {"messages":[{"role":"user","content":"Hello"}]}', {
      code: "invalid_json",
    });
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BadInputError("The request body is not valid UTF-8; send JSON encoded as UTF-8", { code: "invalid_json" });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadInputError(
      `The request body is not valid JSON (${(error as Error).message}); send a JSON object with content-type application/json`,
      { code: "invalid_json" },
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw new BadInputError(`The request body must be a JSON object (got ${got})`, { code: "invalid_json" });
  }
  const tooDeep = depthProblem(value, "The request body");
  if (tooDeep) throw new BadInputError(tooDeep.message, { code: "json_too_deep", param: tooDeep.param });
  return value as Record<string, unknown>;
}

/**
 * Reads a whole upload (a multipart form) of at most `maxBytes`, refused like readJsonObject's body.
 * @param setting the app setting that raises the limit, named in the 413's message.
 * @throws BadInputError with code `request_too_large` (answered 413) when the body is over `maxBytes`.
 */
export async function readUploadBytes(request: BodySource, maxBytes: number, setting: string): Promise<Uint8Array> {
  const tooLargeUpload = () =>
    new BadInputError(`The upload is larger than ${maxBytes} bytes; send less, or raise ${setting}`, { code: REQUEST_TOO_LARGE });
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLargeUpload();
  return readBounded(request.body, maxBytes, tooLargeUpload);
}

async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  overLimit: () => BadInputError = () => tooLarge(maxBytes),
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await discardRest(reader);
      throw overLimit();
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/**
 * Reads the rest of an oversized body without keeping it. Cancelling instead would leave the
 * unread bytes on the host's connection to the worker, which then stalls the next request sent
 * on it; the host's own body cap (maxRequestBodyBytes) bounds how much is read here.
 */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    while (!(await reader.read()).done) {
      // discard
    }
  } catch {
    // The upload broke off (the host cut it at its cap, or the caller left): nothing left to read.
  }
}

function tooLarge(maxBytes: number): BadInputError {
  return new BadInputError(
    `The request body is larger than ${maxBytes} bytes; send less (fewer or shorter messages, smaller images: ` +
      `use image URLs instead of base64 data), or raise HTTP_MAX_REQUEST_BYTES`,
    { code: REQUEST_TOO_LARGE },
  );
}

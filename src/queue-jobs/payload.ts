/**
 * What every queue pipeline's message contract shares: the payload read as JSON (the host hands
 * over an object, a string, or base64 of JSON sent once too often), the id rule that keeps output
 * names inside the container's naming rules, the app's own hand-back references, and one wording
 * for schema violations, so every queue rejects a bad message alike.
 */
import { z } from "zod";
import { BadInputError } from "../errors.js";
import { depthProblem } from "../json-depth.js";

/** Prefix of hand-back blobs (see run-job.ts); ids cannot start with '.', so these never collide with outputs. */
export const HANDBACK_PREFIX = ".handback/";

/**
 * Output names are `{id}.json` (and the like): letters, digits, `-`, `_`, `.`, and `/` for virtual
 * folders, so ids can't escape the container's naming rules; an id may not end in `.error`, so no
 * output can collide with another message's `{id}.error.json` record.
 */
export const ID_PATTERN = /^(?!.*\.\.)(?!.*\/\/)(?!.*\.error$)[A-Za-z0-9_](?:[A-Za-z0-9._/-]{0,198}[A-Za-z0-9_-])?$/;

export const idSchema = z
  .string()
  .regex(
    ID_PATTERN,
    "must be 1-200 letters, digits, '-', '_', '.' or '/' (no '..' or '//', not starting with '.', '-' or '/', not ending with '.', '/' or '.error')",
  );

export const enqueuedAtSchema = z.iso.datetime({ offset: true, error: "must be an ISO 8601 time such as 2025-01-31T10:15:00.000Z" });

const HANDBACK_NAME = new RegExp(`^${HANDBACK_PREFIX.replace(/\./g, "\\.")}[0-9a-f-]{36}\\.json$`);

const handbackReferenceSchema = z.strictObject({
  id: z.string().regex(ID_PATTERN),
  handback: z.string().regex(HANDBACK_NAME),
});

/** A queue message: the work itself (still to be checked against its schema), or a reference to work the app stored when handing it back. */
export type QueuePayload = { kind: "job"; body: unknown } | { kind: "handback"; id: string; blob: string };

/**
 * Tells a hand-back reference from the work itself.
 * @throws BadInputError (`schema_violation`) for a message that names a `handback` but is not a valid reference.
 */
export function readQueuePayload(payload: unknown): QueuePayload {
  const body = toJsonValue(payload);
  if (body !== null && typeof body === "object" && !Array.isArray(body) && "handback" in body) {
    const reference = handbackReferenceSchema.safeParse(body);
    if (!reference.success) {
      throw new BadInputError(
        `The message is not a valid hand-back reference: "handback" is written by the app itself, as {"id": ..., "handback": "${HANDBACK_PREFIX}<uuid>.json"}, and is not part of the message contract`,
        { code: "schema_violation", param: "handback" },
      );
    }
    return { kind: "handback", id: reference.data.id, blob: reference.data.handback };
  }
  return { kind: "job", body };
}

/**
 * Checks a message against its schema and settles its id (default: the queue message id).
 * @param example a minimal valid message, quoted when the message is not a JSON object.
 * @throws BadInputError (`invalid_json`, `json_too_deep`, `schema_violation`) whose `details.id`
 *   carries the best id found, so the error record can still be named after the message.
 */
export function parseJobMessage<S extends z.ZodType<{ id?: string | undefined }>>(
  payload: unknown,
  queueMessageId: string,
  schema: S,
  options: { example: string; allowedFields: readonly string[] },
): z.infer<S> & { id: string } {
  const body = toJsonValue(payload);
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new BadInputError(
      `The message is not a JSON object. Send UTF-8 JSON such as ${options.example}, base64-encoded ` +
        "(the host's messageEncoding is base64: QueueClient's default encoder does it, or use `az storage message put` with base64 text)",
      { code: "invalid_json" },
    );
  }
  const id = (body as { id?: unknown }).id;
  const bestId = typeof id === "string" && ID_PATTERN.test(id) ? id : undefined;
  // Rejected before anything recurses into it; the record is named after the message if it can be.
  const tooDeep = depthProblem(body, "The message");
  if (tooDeep) throw new BadInputError(tooDeep.message, { code: "json_too_deep", param: tooDeep.param, details: { id: bestId } });
  const result = schema.safeParse(body);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.map(String).join(".");
      if (issue.code === "unrecognized_keys")
        return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")} (allowed: ${options.allowedFields.join(", ")})`;
      return `\`${path || "message"}\` ${issue.message}`;
    });
    const firstPath = result.error.issues[0]?.path[0];
    throw new BadInputError(`The message does not match the schema: ${problems.join("; ")}`, {
      code: "schema_violation",
      param: typeof firstPath === "string" ? firstPath : undefined,
      details: { id: bestId },
    });
  }
  const data = result.data as z.infer<S>;
  return { ...data, id: data.id ?? queueMessageId };
}

function toJsonValue(payload: unknown): unknown {
  if (payload instanceof Uint8Array) payload = Buffer.from(payload).toString("utf8");
  if (typeof payload !== "string") return payload;
  const text = payload.trim();
  const parsed = tryParseJson(text);
  if (parsed !== undefined) return parsed;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    return tryParseJson(Buffer.from(text, "base64").toString("utf8").trim());
  }
  return undefined;
}

function tryParseJson(text: string): unknown {
  if (!text.startsWith("{") && !text.startsWith("[")) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

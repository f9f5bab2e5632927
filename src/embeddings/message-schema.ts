/**
 * The queue message contract:
 *   {"id"?: string, "input": string | string[], "dimensions"?: number, "deployment"?: string, "metadata"?: object,
 *    "enqueuedAt"?: string}
 * Unknown fields are rejected, so a typo such as `inputs` fails loudly instead of being ignored.
 * `enqueuedAt` is set by the app itself on work it hands back to the queue (see process-message.ts),
 * so the output keeps the original message's time. Work too large to hand back inline comes back as
 * a reference instead, `{"id": string, "handback": ".handback/{uuid}.json"}`, to a blob holding the
 * message.
 */
import { z } from "zod";
import { BadInputError } from "../errors.js";
import { depthProblem } from "../json-depth.js";
import { MAX_DIMENSIONS } from "./input-limits.js";
import { HANDBACK_PREFIX } from "./result-store.js";

/**
 * Output names are `{id}.json`: letters, digits, `-`, `_`, `.`, and `/` for virtual folders, so
 * ids can't escape the container's naming rules; an id may not end in `.error`, so no output can
 * collide with another message's `{id}.error.json` record.
 */
export const ID_PATTERN = /^(?!.*\.\.)(?!.*\/\/)(?!.*\.error$)[A-Za-z0-9_](?:[A-Za-z0-9._/-]{0,198}[A-Za-z0-9_-])?$/;

export const embeddingsMessageSchema = z.strictObject({
  id: z
    .string()
    .regex(
      ID_PATTERN,
      "must be 1-200 letters, digits, '-', '_', '.' or '/' (no '..' or '//', not starting with '.', '-' or '/', not ending with '.', '/' or '.error')",
    )
    .optional(),
  input: z.union([z.string(), z.array(z.string())], { error: "must be a string or an array of strings" }),
  dimensions: z.number().int().min(1).max(MAX_DIMENSIONS).optional(),
  deployment: z.string().min(1).max(64).optional(),
  metadata: z.record(z.string(), z.unknown(), { error: "must be a JSON object" }).optional(),
  enqueuedAt: z.iso.datetime({ offset: true, error: "must be an ISO 8601 time such as 2025-01-31T10:15:00.000Z" }).optional(),
});

export type EmbeddingsMessage = z.infer<typeof embeddingsMessageSchema>;

const HANDBACK_NAME = new RegExp(`^${HANDBACK_PREFIX.replace(/\./g, "\\.")}[0-9a-f-]{36}\\.json$`);

const handbackReferenceSchema = z.strictObject({
  id: z.string().regex(ID_PATTERN),
  handback: z.string().regex(HANDBACK_NAME),
});

/** A queue message: the work itself, or a reference to work the app stored when handing it back. */
export type QueueMessage = { kind: "job"; job: EmbeddingsJob } | { kind: "handback"; id: string; blob: string };

/**
 * Reads a queue message: a hand-back reference if it is one, else the work itself.
 * @throws BadInputError as parseEmbeddingsMessage does.
 */
export function parseQueueMessage(payload: unknown, queueMessageId: string): QueueMessage {
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
  return { kind: "job", job: parseEmbeddingsMessage(body, queueMessageId) };
}

/** A message that passed the schema, with its output name settled. */
export interface EmbeddingsJob extends EmbeddingsMessage {
  id: string;
}

/**
 * Turns the queue trigger's payload into a job. The Functions host hands over a parsed object
 * when the message text is JSON, else a string; a string that is base64 of JSON is also accepted,
 * so a message encoded once too often still works.
 * @throws BadInputError when the message is not a JSON object or breaks the schema; `details`
 *   carries the best id found, so the error record can still be named after the message.
 */
export function parseEmbeddingsMessage(payload: unknown, queueMessageId: string): EmbeddingsJob {
  const body = toJsonValue(payload);
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new BadInputError(
      'The message is not a JSON object. Send UTF-8 JSON such as {"input": "text"}, base64-encoded ' +
        "(the host's messageEncoding is base64: QueueClient's default encoder does it, or use `az storage message put` with base64 text)",
      { code: "invalid_json" },
    );
  }
  const id = (body as { id?: unknown }).id;
  const bestId = typeof id === "string" && ID_PATTERN.test(id) ? id : undefined;
  // Rejected before anything recurses into it; the record is named after the message if it can be.
  const tooDeep = depthProblem(body, "The message");
  if (tooDeep) throw new BadInputError(tooDeep.message, { code: "json_too_deep", param: tooDeep.param, details: { id: bestId } });
  const result = embeddingsMessageSchema.safeParse(body);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.map(String).join(".");
      if (issue.code === "unrecognized_keys")
        return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")} (allowed: id, input, dimensions, deployment, metadata, enqueuedAt)`;
      return `\`${path || "message"}\` ${issue.message}`;
    });
    const firstPath = result.error.issues[0]?.path[0];
    throw new BadInputError(`The message does not match the schema: ${problems.join("; ")}`, {
      code: "schema_violation",
      param: typeof firstPath === "string" ? firstPath : undefined,
      details: { id: bestId },
    });
  }
  return { ...result.data, id: result.data.id ?? queueMessageId };
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

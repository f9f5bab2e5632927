/**
 * The only containers and queues the console's endpoints may touch, and the name checks that keep
 * a caller inside them: a blob name is checked segment by segment, so `..`, an empty segment or a
 * leading `/` can never reach another container or another account path.
 */
import type { Config } from "../config.js";
import { BadInputError } from "../errors.js";

/** Output containers the console reads from, by the name the page uses. The audio container is write-only here. */
export const OUTPUT_KINDS = ["transcripts", "embeddings", "speech", "images"] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** Queues the console may put messages on, by the name the page uses. */
export const QUEUE_KINDS = ["embeddings", "speech", "images"] as const;
export type QueueKind = (typeof QUEUE_KINDS)[number];

/** Azure's limit on a blob name's length. */
const MAX_BLOB_NAME_LENGTH = 1024;

/**
 * The configured container behind an output kind.
 * @throws BadInputError (404 is not right here: the kind is part of the request's grammar) naming the kinds there are.
 */
export function outputContainer(config: Config, kind: string): string {
  switch (kind as OutputKind) {
    case "transcripts":
      return config.audio.transcriptsContainer;
    case "embeddings":
      return config.embeddings.container;
    case "speech":
      return config.speech.container;
    case "images":
      return config.images.container;
    default:
      throw new BadInputError(`"${kind}" is not an output the console reads; use one of ${OUTPUT_KINDS.join(", ")}`, { param: "kind" });
  }
}

/**
 * The configured queue behind a queue kind.
 * @throws BadInputError naming the queues there are.
 */
export function queueName(config: Config, kind: string): string {
  switch (kind as QueueKind) {
    case "embeddings":
      return config.embeddings.queue;
    case "speech":
      return config.speech.queue;
    case "images":
      return config.images.queue;
    default:
      throw new BadInputError(`"${kind}" is not a queue the console writes to; use one of ${QUEUE_KINDS.join(", ")}`, { param: "queue" });
  }
}

/**
 * Checks a blob name given by the caller (already percent-decoded by the route).
 * @returns the name unchanged.
 * @throws BadInputError for an empty or overlong name, a `.`/`..`/empty segment, a backslash or a control character.
 */
export function checkBlobName(name: string | undefined, container: string): string {
  const example = container === "transcripts" ? "meeting.wav.json" : "meeting.wav";
  const problem = !name
    ? "is empty"
    : name.length > MAX_BLOB_NAME_LENGTH
      ? `is longer than ${MAX_BLOB_NAME_LENGTH} characters`
      : name.split("/").some((part) => part === "" || part === "." || part === "..")
        ? "has an empty, `.` or `..` segment"
        : [...name].some((c) => c === "\\" || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
          ? "contains a backslash or a control character"
          : undefined;
  if (problem) {
    throw new BadInputError(`The blob name "${name ?? ""}" ${problem}; use a name inside the ${container} container, e.g. ${example}`, {
      param: "name",
      code: "invalid_blob_name",
    });
  }
  return name!;
}

/**
 * One nesting limit for every JSON the app accepts: HTTP bodies, queue messages, the host's poison
 * messages. JSON.parse reads any depth, but JSON.stringify, zod and the openai client recurse, and a
 * few kilobytes nested thousands of levels deep overflow the stack there ("Maximum call stack size
 * exceeded") long after the input was accepted: a 500 over HTTP, or a queue message that calls Azure
 * OpenAI on every delivery and then fails to write its record. So depth is checked once, right after
 * parsing, iteratively (a recursive check would overflow the same way).
 */
import { BadInputError } from "./errors.js";

/**
 * Deepest nesting accepted: objects and arrays inside each other. Far above what any OpenAI request
 * needs (a chat request with a tool schema nested 10 levels is about 30 deep), far below where the
 * libraries that handle it overflow (a few thousand).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The path to the first object or array nested deeper than `limit`, or undefined when there is none.
 * The root is depth 1.
 */
export function pathDeeperThan(value: unknown, limit: number = MAX_JSON_DEPTH): (string | number)[] | undefined {
  const stack: { value: unknown; depth: number; path: (string | number)[] }[] = [{ value, depth: 1, path: [] }];
  while (stack.length > 0) {
    const { value: current, depth, path } = stack.pop()!;
    if (typeof current !== "object" || current === null) continue;
    if (depth > limit) return path;
    const entries: [string | number, unknown][] = Array.isArray(current) ? current.map((item, index) => [index, item]) : Object.entries(current);
    for (const [key, item] of entries) {
      if (typeof item === "object" && item !== null) stack.push({ value: item, depth: depth + 1, path: [...path, key] });
    }
  }
  return undefined;
}

/**
 * Rejects JSON nested deeper than MAX_JSON_DEPTH.
 * @param what Names the JSON for the message, e.g. "The request body" or "The message".
 * @throws BadInputError with code `json_too_deep` and `param` the top-level field at fault.
 */
export function assertJsonDepth(value: unknown, what: string): void {
  const path = pathDeeperThan(value);
  if (!path) return;
  const shown = path.length > 6 ? [...path.slice(0, 6), "..."] : path;
  throw new BadInputError(
    `${what} nests JSON more than ${MAX_JSON_DEPTH} levels deep (at \`${shown.join(".")}\`); flatten it: no valid request needs that depth`,
    { code: "json_too_deep", param: typeof path[0] === "string" ? path[0] : undefined },
  );
}

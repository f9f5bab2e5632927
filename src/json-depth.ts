/**
 * One nesting limit for every JSON the app accepts: HTTP bodies, queue messages, the host's poison
 * messages. JSON.parse reads any depth, but JSON.stringify, zod and the openai client recurse, and a
 * few kilobytes nested thousands of levels deep overflow the stack there ("Maximum call stack size
 * exceeded") long after the input was accepted: a 500 over HTTP, or a queue message that calls Azure
 * OpenAI on every delivery and then fails to write its record. So depth is checked once, right after
 * parsing, iteratively (a recursive check would overflow the same way).
 */
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
  // Each entry links to its parent instead of copying the path: a wide body must not cost a path
  // per node (a 1 MiB body of small arrays would otherwise allocate hundreds of MB).
  interface Entry {
    value: object;
    depth: number;
    key: string | number;
    parent: Entry | undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const stack: Entry[] = [{ value, depth: 1, key: "", parent: undefined }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (entry.depth > limit) {
      const path: (string | number)[] = [];
      for (let at: Entry | undefined = entry; at?.parent; at = at.parent) path.unshift(at.key);
      return path;
    }
    const children: Iterable<[string | number, unknown]> = Array.isArray(entry.value) ? entry.value.entries() : Object.entries(entry.value);
    for (const [key, item] of children) {
      if (typeof item === "object" && item !== null) stack.push({ value: item, depth: entry.depth + 1, key, parent: entry });
    }
  }
  return undefined;
}

/**
 * What to tell the sender of JSON nested deeper than MAX_JSON_DEPTH at `path`, or undefined when
 * it is not. The callers wrap it in their BadInputError (code `json_too_deep`): this module imports
 * no error classes, so the entry file and the lazily loaded pipelines that share it share nothing else.
 */
export function depthProblem(value: unknown, what: string): { message: string; param: string | undefined } | undefined {
  const path = pathDeeperThan(value);
  if (!path) return undefined;
  const shown = path.length > 6 ? [...path.slice(0, 6), "..."] : path;
  return {
    message: `${what} nests JSON more than ${MAX_JSON_DEPTH} levels deep (at \`${shown.join(".")}\`); flatten it: no valid request needs that depth`,
    param: typeof path[0] === "string" ? path[0] : undefined,
  };
}

/**
 * Blob trigger paths (`audio/{name}`) as the host's binding templates read them: the container,
 * a listing prefix and a pattern whose parameters become trigger metadata when a blob matches.
 */

/** A blob trigger path such as `audio/{name}`: the container plus a pattern for the blob name. */
export interface BlobPathPattern {
  container: string;
  /** Literal start of the blob name, used as the listing prefix. */
  prefix: string;
  parameterNames: string[];
  regex: RegExp;
}

/**
 * Parses `container/pattern`. Parameters are greedy and may span `/` (`{name}` matches `a/b.wav`),
 * as in the host's binding templates; `{{` and `}}` are literal braces.
 * @throws Error when the path has no container or a malformed parameter.
 */
export function parseBlobPath(path: string): BlobPathPattern {
  const slash = path.indexOf("/");
  const container = slash < 0 ? path : path.slice(0, slash);
  const pattern = slash < 0 ? "" : path.slice(slash + 1);
  if (!container || container.includes("{")) {
    throw new Error(`Blob trigger path "${path}" must start with a literal container name, e.g. "audio/{name}".`);
  }
  const parameterNames: string[] = [];
  let source = "^";
  let prefix = "";
  let sawParameter = false;
  for (let i = 0; i < pattern.length;) {
    if (pattern.startsWith("{{", i) || pattern.startsWith("}}", i)) {
      source += escapeRegex(pattern[i]!);
      if (!sawParameter) prefix += pattern[i];
      i += 2;
    } else if (pattern[i] === "{") {
      const end = pattern.indexOf("}", i);
      const name = end < 0 ? "" : pattern.slice(i + 1, end).trim();
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Blob trigger path "${path}" has a malformed parameter.`);
      parameterNames.push(name);
      source += "(.+)";
      sawParameter = true;
      i = end + 1;
    } else {
      source += escapeRegex(pattern[i]!);
      if (!sawParameter) prefix += pattern[i];
      i++;
    }
  }
  if (pattern === "") source += ".*";
  return { container, prefix, parameterNames, regex: new RegExp(`${source}$`) };
}

/** Returns the path parameters when `blobName` matches, else undefined. */
export function matchBlobPath(pattern: BlobPathPattern, blobName: string): Record<string, string> | undefined {
  const match = pattern.regex.exec(blobName);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  pattern.parameterNames.forEach((name, index) => {
    params[name] = match[index + 1] ?? "";
  });
  return params;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

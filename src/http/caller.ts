/**
 * Names who is calling an HTTP route, for metrics dimensions and per-caller token limits.
 *
 * Azure Functions checks a function key before the app runs, but it does not tell a Node.js
 * worker which named key matched (the v4 library exposes no key claims). The key itself still
 * arrives (`x-functions-key` header or `code` query parameter), so the app names a key by its
 * fingerprint, the first 12 hex digits of its SHA-256: stable, unique in practice, and useless
 * to anyone who reads it in a metric. `CALLER_NAMES` maps readable names to fingerprints.
 *
 * Which identity counts, strongest first:
 * 1. App Service authentication (Easy Auth), when it is on: the platform sets the principal
 *    headers and strips any a caller sends, so they cannot be forged.
 * 2. The function key, when keys are required (`HTTP_AUTH_LEVEL=function`): the host has checked it.
 * 3. The `x-caller` header, when keys are off: self-declared, so it names callers for metrics
 *    and limits only among callers that cooperate.
 * 4. `anonymous`.
 */
import { createHash } from "node:crypto";
import type { HttpAuthLevel } from "../config.js";

export interface CallerConfig {
  authLevel: HttpAuthLevel;
  /** Key fingerprint -> caller name, from CALLER_NAMES. */
  keyNames: ReadonlyMap<string, string>;
  /** App Service authentication is on (the platform's WEBSITE_AUTH_ENABLED). */
  easyAuth: boolean;
}

/** The headers and URL callerOf reads; @azure/functions' HttpRequest has both. */
export interface CallerRequest {
  headers: Headers;
  url: string;
}

export const ANONYMOUS_CALLER = "anonymous";
const MAX_NAME_LENGTH = 64;
export const FINGERPRINT_PATTERN = /^[0-9a-f]{12}$/;

/** The first 12 hex digits of the key's SHA-256: what CALLER_NAMES and `key-...` names use. */
export function keyFingerprint(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex").slice(0, 12);
}

/** The caller's name: at most 64 characters of letters, digits and `._@-`. */
export function callerOf(request: CallerRequest, callers: CallerConfig): string {
  if (callers.easyAuth) {
    const principal = request.headers.get("x-ms-client-principal-name") ?? request.headers.get("x-ms-client-principal-id");
    if (principal) return sanitizeCallerName(principal);
  }
  if (callers.authLevel === "function") {
    const key = request.headers.get("x-functions-key") ?? new URL(request.url).searchParams.get("code");
    if (!key) return ANONYMOUS_CALLER;
    const fingerprint = keyFingerprint(key);
    return callers.keyNames.get(fingerprint) ?? `key-${fingerprint}`;
  }
  const declared = request.headers.get("x-caller");
  return declared ? sanitizeCallerName(declared) : ANONYMOUS_CALLER;
}

/**
 * Keeps a name safe as a metric dimension and a storage blob name: other characters become `_`,
 * and it is cut to 64 characters (so a long header cannot blow up a metric's cardinality per value).
 */
export function sanitizeCallerName(name: string): string {
  const cleaned = name
    .trim()
    .replace(/[^A-Za-z0-9._@-]/g, "_")
    .slice(0, MAX_NAME_LENGTH);
  if (cleaned === "") return ANONYMOUS_CALLER;
  // Dots alone would be a path segment (`.` or `..`) where the name names a blob (the shared limits store).
  return /^\.+$/.test(cleaned) ? cleaned.replace(/\./g, "_") : cleaned;
}

/**
 * Parses CALLER_NAMES: `{"team-a": "3f9a1c2b4d5e", ...}`, caller name -> key fingerprint.
 * Values are never echoed in problems: a user who pastes the key itself instead of its
 * fingerprint must not see the key again in a log.
 */
export function parseCallerKeyNames(json: string): { keyNames: Map<string, string>; problems: string[] } {
  const keyNames = new Map<string, string>();
  const problems: string[] = [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {
      keyNames,
      problems: ['is not valid JSON; write an object of caller name to key fingerprint, e.g. {"team-a": "3f9a1c2b4d5e"}'],
    };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { keyNames, problems: ['must be a JSON object of caller name to key fingerprint, e.g. {"team-a": "3f9a1c2b4d5e"}'] };
  }
  for (const [name, fingerprint] of Object.entries(parsed as Record<string, unknown>)) {
    if (sanitizeCallerName(name) !== name || name === ANONYMOUS_CALLER) {
      problems.push(`names the caller "${sanitizeCallerName(name)}", which is not a valid name; use up to 64 letters, digits and . _ @ -`);
      continue;
    }
    if (typeof fingerprint !== "string" || !FINGERPRINT_PATTERN.test(fingerprint)) {
      problems.push(
        `gives caller "${name}" a value that is not a key fingerprint; use the first 12 hex digits of the key's SHA-256 ` +
          '(printf %s "$KEY" | sha256sum | cut -c1-12), never the key itself',
      );
      continue;
    }
    const taken = keyNames.get(fingerprint);
    if (taken !== undefined) {
      problems.push(`gives callers "${taken}" and "${name}" the same key fingerprint; a key names one caller`);
      continue;
    }
    keyNames.set(fingerprint, name);
  }
  return { keyNames, problems };
}

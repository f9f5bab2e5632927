/**
 * Function keys as the Functions host checks them: which key an `anonymous`, `function` or
 * `admin` function takes, and which keys the host's own endpoints take (the blob webhook, /admin).
 * Off by default locally, as with Core Tools; on, it reproduces the deployed host's 401s.
 */
import { timingSafeEqual } from "node:crypto";

/** Where the local host takes keys from (settings, so `local.settings.json` can hold them). */
export const KEY_SETTINGS = {
  enforce: "FUNCTIONS_ENFORCE_KEYS",
  master: "FUNCTIONS_MASTER_KEY",
  hostDefault: "FUNCTIONS_DEFAULT_KEY",
  /** Followed by the function name: `FUNCTIONS_KEY__chat`. */
  functionPrefix: "FUNCTIONS_KEY__",
} as const;

export interface KeyPolicy {
  /** Off by default locally, as Core Tools does; on reproduces the deployed host. */
  enforce: boolean;
  masterKey?: string;
  hostKeys: string[];
  /** Lower-cased function name -> its keys. */
  functionKeys: Map<string, string[]>;
}

/** Reads the key policy from settings (environment). */
export function keyPolicyFromEnv(env: NodeJS.ProcessEnv): KeyPolicy {
  const functionKeys = new Map<string, string[]>();
  for (const [name, value] of Object.entries(env)) {
    if (value && name.toUpperCase().startsWith(KEY_SETTINGS.functionPrefix)) {
      functionKeys.set(name.slice(KEY_SETTINGS.functionPrefix.length).toLowerCase(), [value]);
    }
  }
  const master = env[KEY_SETTINGS.master];
  const hostDefault = env[KEY_SETTINGS.hostDefault];
  return {
    enforce: /^(1|true|yes)$/i.test(env[KEY_SETTINGS.enforce] ?? ""),
    ...(master ? { masterKey: master } : {}),
    hostKeys: hostDefault ? [hostDefault] : [],
    functionKeys,
  };
}

export type AuthLevel = "anonymous" | "function" | "admin";

/**
 * Decides whether a request may call a function, as the host does: `anonymous` always; `function`
 * with that function's key, a host key or the master key; `admin` with the master key only.
 * The key comes from the `x-functions-key` header or the `code` query parameter.
 */
export function isAuthorized(
  policy: KeyPolicy,
  authLevel: string | undefined,
  functionName: string,
  suppliedKey: string | undefined,
): boolean {
  const level = (authLevel ?? "anonymous").toLowerCase();
  if (!policy.enforce || level === "anonymous") return true;
  if (!suppliedKey) return false;
  const accepted: string[] = [];
  if (policy.masterKey) accepted.push(policy.masterKey);
  if (level !== "admin") {
    accepted.push(...policy.hostKeys, ...(policy.functionKeys.get(functionName.toLowerCase()) ?? []));
  }
  return accepted.some((key) => sameSecret(key, suppliedKey));
}

/** Keys that may call host runtime endpoints such as the blob webhook (system key or master key). */
export function isAuthorizedForRuntime(policy: KeyPolicy, suppliedKey: string | undefined): boolean {
  if (!policy.enforce) return true;
  if (!suppliedKey) return false;
  return [policy.masterKey, ...policy.hostKeys].some((key) => key !== undefined && sameSecret(key, suppliedKey));
}

/** Admin endpoints (`/admin/...`) take the master key only, as on Azure. */
export function isAuthorizedForAdmin(policy: KeyPolicy, suppliedKey: string | undefined): boolean {
  if (!policy.enforce) return true;
  return policy.masterKey !== undefined && suppliedKey !== undefined && sameSecret(policy.masterKey, suppliedKey);
}

function sameSecret(expected: string, supplied: string): boolean {
  const expectedBytes = Buffer.from(expected);
  const suppliedBytes = Buffer.from(supplied);
  return expectedBytes.length === suppliedBytes.length && timingSafeEqual(expectedBytes, suppliedBytes);
}

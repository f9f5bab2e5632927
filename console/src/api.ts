/**
 * Calls to the app from the page: the function key the user typed (kept in this tab's session
 * storage only, never in the page or a cookie) goes in `x-functions-key`; with Easy Auth the
 * browser's own session cookie is sent instead (same origin). Errors become one readable sentence.
 */
const KEY_STORAGE = "aoai-console-function-key";

export function loadKey(): string {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function saveKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export function authHeaders(): Record<string, string> {
  const key = loadKey();
  return key ? { "x-functions-key": key } : {};
}

/** fetch with the key; same-origin only (the CSP allows nothing else anyway). */
export function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
}

/** The app's error message from a failed response (OpenAI's `{error: {message}}` shape), or its status line. */
export async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    if (body.error?.message) return `${response.status}: ${body.error.message}`;
  } catch {
    // not JSON: the host's own answer
  }
  if (response.status === 401) return "401: the app wants a function key; enter it above (Azure portal: Function App > App keys).";
  return `${response.status} ${response.statusText}${text ? `: ${text.slice(0, 300)}` : ""}`;
}

/** GET a JSON document, throwing Error(errorText) on a failure. */
export async function getJson<T>(path: string): Promise<T> {
  const response = await apiFetch(path);
  if (!response.ok) throw new Error(await errorText(response));
  return (await response.json()) as T;
}

/** A blob name as a URL path: each segment encoded, the slashes kept. */
export function encodePath(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

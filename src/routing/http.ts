/**
 * What the OpenAI-compatible routes share about routing: the response header that says which
 * backend answered (its table name: an endpoint's host label and a deployment, never a secret).
 */
import type { Backend } from "./table.js";

export const BACKEND_HEADER = "x-backend";

export function backendHeader(backend: Backend): Record<string, string> {
  return { [BACKEND_HEADER]: backend.name };
}

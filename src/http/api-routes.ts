/**
 * The OpenAI-compatible routes this app serves under /api/v1, with their methods: what the
 * catch-all (src/functions/unknown-route.ts) checks a request against, to answer 405 for a known
 * route called with the wrong method and 404 for anything else, both in OpenAI's error shape
 * instead of the host's plain-text "Not Found". A test keeps it equal to the functions' routes.
 */
import { BadInputError } from "../errors.js";

export interface ApiRoute {
  /** The path under /api/v1, `{name}` for one segment. */
  template: string;
  methods: readonly string[];
}

export const API_ROUTES: readonly ApiRoute[] = [
  { template: "audio/speech", methods: ["POST"] },
  { template: "audio/transcriptions", methods: ["POST"] },
  { template: "audio/translations", methods: ["POST"] },
  { template: "chat/completions", methods: ["POST"] },
  { template: "completions", methods: ["POST"] },
  { template: "embeddings", methods: ["POST"] },
  { template: "images/edits", methods: ["POST"] },
  { template: "images/generations", methods: ["POST"] },
  { template: "models", methods: ["GET"] },
  { template: "models/{model}", methods: ["GET"] },
  { template: "responses", methods: ["POST"] },
  { template: "responses/{id}", methods: ["GET", "DELETE"] },
  { template: "responses/{id}/input_items", methods: ["GET"] },
];

/** `code` of the answer to a path no route serves (OpenAI answers it with 404 "Invalid URL"). */
export const UNKNOWN_URL = "unknown_url";
/** `code` of the answer to a known route called with a method it does not take. */
export const METHOD_NOT_ALLOWED = "method_not_allowed";

/** The answer to a request under /api/v1 that no function took: 405 with `allow`, or 404. */
export function unknownRouteError(method: string, path: string): { status: 404 | 405; allow?: string; error: BadInputError } {
  const route = API_ROUTES.find((candidate) => matches(candidate.template, path));
  const request = `${method.toUpperCase()} /api/v1/${path}`;
  if (route) {
    const allow = route.methods.join(", ");
    const error = new BadInputError(`${request} is not supported: /api/v1/${route.template} takes ${allow}`, { code: METHOD_NOT_ALLOWED });
    return { status: 405, allow, error };
  }
  const served = API_ROUTES.map((r) => `${r.methods.join("|")} /api/v1/${r.template}`).join(", ");
  return { status: 404, error: new BadInputError(`Invalid URL (${request}): this app serves ${served}`, { code: UNKNOWN_URL }) };
}

function matches(template: string, path: string): boolean {
  const want = template.split("/");
  const got = path.replace(/^\/+|\/+$/g, "").split("/");
  return (
    want.length === got.length &&
    want.every((part, i) => (part.startsWith("{") ? got[i] !== "" : part.toLowerCase() === got[i]!.toLowerCase()))
  );
}

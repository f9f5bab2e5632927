/**
 * Where the Responses API lives on Azure, and its stored-response operations. Paths: v1
 * `/openai/v1/responses[/{id}[/input_items]]` and dated `/openai/responses[...]?api-version=`, not
 * under /deployments/ (the body's `model` names the deployment in both styles). Creating a response
 * is an ordinary operation of the data plane (responses.ts); this file answers GET /responses/{id},
 * GET /responses/{id}/input_items (a cursor list, newest first by default) and DELETE /responses/{id}
 * from the response store, counted on the deployment that made the response. Retrieval is not a
 * model call: no quota is charged and no fault rule applies.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { azureError, invalidRequest, type SimulatorHttpError } from "./errors.js";
import { sendJson } from "./http-io.js";
import type { RequestRecord } from "./request-record.js";
import { inputItemsOf } from "./responses-store.js";
import type { SimulatorState } from "./state.js";

export type ResponsesRoute =
  | { style: "dated" | "v1"; kind: "op"; operation: "responses" }
  | { style: "dated" | "v1"; kind: "stored-response"; id: string; inputItems: boolean };

/** Any path of the Responses API, including the deployment-style ones Azure does not serve. */
export const RESPONSES_PATH = /^\/openai\/(?:v1\/|deployments\/[^/]+\/)?responses(?:\/|$)/;

/** The route of a Responses API path; undefined for one Azure does not serve (under /deployments/, or unknown). */
export function parseResponsesRoute(path: string): ResponsesRoute | undefined {
  const match = path.match(/^\/openai\/(v1\/)?responses(?:\/([^/]+)(\/input_items)?)?\/?$/);
  if (!match) return undefined;
  const style = match[1] ? "v1" : "dated";
  if (!match[2]) return { style, kind: "op", operation: "responses" };
  return { style, kind: "stored-response", id: decodeURIComponent(match[2]), inputItems: match[3] !== undefined };
}

export function responseNotFound(id: string): SimulatorHttpError {
  return invalidRequest(`Response with id '${id}' not found.`, null, null, 404);
}

/**
 * GET a stored response or its input items, or DELETE it.
 * @throws SimulatorHttpError 404 for an id not stored (never stored, `store: false`, deleted or
 * dropped), 405 for another method, 400 for bad list parameters.
 */
export function serveStoredResponse(
  state: SimulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  route: Extract<ResponsesRoute, { kind: "stored-response" }>,
  record: RequestRecord,
): void {
  const { entry } = record;
  entry.operation = "responses";
  const method = req.method ?? "GET";
  if (method !== "GET" && (route.inputItems || method !== "DELETE"))
    throw azureError(405, "405", `The method ${method} is not allowed on ${url.pathname}.`);
  const stored = state.responses.get(route.id);
  if (!stored) throw responseNotFound(route.id);

  entry.deployment = stored.deployment;
  const runtime = state.deployments.get(stored.deployment);
  if (runtime) {
    record.counters = runtime.counters;
    record.counters.requests++;
  }

  let body: unknown;
  if (method === "DELETE") {
    state.responses.delete(route.id);
    body = { id: route.id, object: "response", deleted: true };
  } else if (route.inputItems) {
    body = listPage(inputItemsOf(stored), url.searchParams);
  } else {
    if (url.searchParams.get("stream") === "true")
      throw invalidRequest("Only responses created with 'background': true can be streamed again.", "stream", "invalid_value");
    body = stored.response;
  }
  entry.status = 200;
  sendJson(res, 200, body, record.headers);
}

/**
 * One page of a cursor list: `order` (desc by default: newest first), `limit` 1-100 (default 20),
 * `after` / `before` an item id of the list.
 */
function listPage(items: readonly { id: string }[], query: URLSearchParams) {
  const order = query.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc")
    throw invalidRequest(`Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`, "order", "invalid_value");
  const limitText = query.get("limit") ?? "20";
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100)
    throw invalidRequest(`Invalid 'limit': expected an integer between 1 and 100, but got ${limitText} instead.`, "limit", "invalid_value");
  let ordered = order === "asc" ? [...items] : [...items].reverse();
  for (const cursor of ["after", "before"] as const) {
    const id = query.get(cursor);
    if (id === null) continue;
    const at = ordered.findIndex((item) => item.id === id);
    if (at < 0) throw invalidRequest(`Item with id '${id}' not found.`, cursor, null, 404);
    ordered = cursor === "after" ? ordered.slice(at + 1) : ordered.slice(0, at);
  }
  // `before` pages backwards: the items just before the cursor.
  const data = query.has("before") ? ordered.slice(Math.max(0, ordered.length - limit)) : ordered.slice(0, limit);
  return {
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: ordered.length > limit,
  };
}

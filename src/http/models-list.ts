import type { RoutingTable } from "../routing/table.js";
import { openAIErrorBody, type OpenAIErrorBody } from "./openai-error.js";

export interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: "list";
  data: ModelEntry[];
}

/** When this process started, as the `created` of every entry (deployments have no date we can know). */
const STARTED_AT = Math.floor(Date.now() / 1000);

/** Every model callers may name (the routing table's, or each configured deployment once), in OpenAI's list shape. */
export function listModels(table: RoutingTable): ModelList {
  const ids = [...table.models.keys()];
  return { object: "list", data: ids.map((id) => ({ id, object: "model", created: STARTED_AT, owned_by: "azure-openai" })) };
}

/** One model (`GET /models/{model}`), or OpenAI's 404 `model_not_found` body naming those that exist. */
export function findModel(table: RoutingTable, id: string): { status: 200; body: ModelEntry } | { status: 404; body: OpenAIErrorBody } {
  const models = listModels(table).data;
  const model = models.find((entry) => entry.id === id);
  if (model) return { status: 200, body: model };
  const known = models.map((entry) => `'${entry.id}'`).join(", ");
  return {
    status: 404,
    body: openAIErrorBody(`The model '${id}' does not exist here; the models served here are ${known}`, "invalid_request_error", {
      param: "model",
      code: "model_not_found",
    }),
  };
}

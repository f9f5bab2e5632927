import type { Config } from "../config.js";
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

/** The configured deployments in OpenAI's list shape; a deployment used for several purposes is listed once. */
export function listModels(deployments: Config["openai"]["deployments"]): ModelList {
  const configured = [
    deployments.chat,
    deployments.embeddings,
    deployments.transcription,
    deployments.speech,
    deployments.images,
    deployments.completions,
  ];
  const ids = [...new Set(configured.filter((id): id is string => id !== undefined))];
  return { object: "list", data: ids.map((id) => ({ id, object: "model", created: STARTED_AT, owned_by: "azure-openai" })) };
}

/** One configured deployment (`GET /models/{model}`), or OpenAI's 404 `model_not_found` body naming those that exist. */
export function findModel(
  deployments: Config["openai"]["deployments"],
  id: string,
): { status: 200; body: ModelEntry } | { status: 404; body: OpenAIErrorBody } {
  const models = listModels(deployments).data;
  const model = models.find((entry) => entry.id === id);
  if (model) return { status: 200, body: model };
  const known = models.map((entry) => `'${entry.id}'`).join(", ");
  return {
    status: 404,
    body: openAIErrorBody(`The model '${id}' does not exist here; the configured deployments are ${known}`, "invalid_request_error", {
      param: "model",
      code: "model_not_found",
    }),
  };
}

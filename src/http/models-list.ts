import type { Config } from "../config.js";

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
  const ids = [...new Set([deployments.chat, deployments.embeddings, deployments.transcription])];
  return { object: "list", data: ids.map((id) => ({ id, object: "model", created: STARTED_AT, owned_by: "azure-openai" })) };
}

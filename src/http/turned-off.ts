/**
 * The answer for an endpoint whose deployment setting is off (speech, images) or unset (legacy
 * completions): 404 `model_not_found` in OpenAI's shape, naming the setting that turns it on, the
 * way OpenAI answers a model the account cannot use. It is not a failure of the request or of
 * Azure, so it is answered here directly rather than through the error model.
 */
import { openAIErrorBody } from "./openai-error.js";
import type { Config } from "../config.js";
import { jsonResponse, type JsonResponse } from "./responses.js";

/** The `table` argument of turnedOffAnswer under this configuration. */
export function tableOf(config: Config, capability: string): { capability: string } | undefined {
  return config.openai.routing.table.source === "AZURE_OPENAI_DEPLOYMENTS" ? { capability } : undefined;
}

/**
 * @param what the capability, e.g. "Text to speech"
 * @param setting the app setting that names its deployment, e.g. AZURE_OPENAI_SPEECH_DEPLOYMENT
 * @param table with AZURE_OPENAI_DEPLOYMENTS, the capability's name there: the fix is a table entry, not a deployment name
 */
export function turnedOffAnswer(what: string, setting: string, model?: string, table?: { capability: string }): JsonResponse {
  const asked = model ? ` (asked for '${model}')` : "";
  const fix = table
    ? `no model in AZURE_OPENAI_DEPLOYMENTS serves it${asked}; add a backend with "capabilities": ["${table.capability}"], and leave ${setting} unset or name that model`
    : `no deployment is configured for it${asked}; set ${setting} to the name of an Azure OpenAI deployment that serves it`;
  return jsonResponse(
    404,
    openAIErrorBody(`${what} is not available here: ${fix}`, "invalid_request_error", { param: "model", code: "model_not_found" }),
  );
}

/**
 * The answer for an endpoint whose deployment setting is off (speech, images) or unset (legacy
 * completions): 404 `model_not_found` in OpenAI's shape, naming the setting that turns it on, the
 * way OpenAI answers a model the account cannot use. It is not a failure of the request or of
 * Azure, so it is answered here directly rather than through the error model.
 */
import { openAIErrorBody } from "./openai-error.js";
import { jsonResponse, type JsonResponse } from "./responses.js";

/**
 * @param what the capability, e.g. "Text to speech"
 * @param setting the app setting that names its deployment, e.g. AZURE_OPENAI_SPEECH_DEPLOYMENT
 */
export function turnedOffAnswer(what: string, setting: string, model?: string): JsonResponse {
  return jsonResponse(
    404,
    openAIErrorBody(
      `${what} is not available here: no deployment is configured for it${model ? ` (asked for '${model}')` : ""}; set ${setting} to the name of an Azure OpenAI deployment that serves it`,
      "invalid_request_error",
      { param: "model", code: "model_not_found" },
    ),
  );
}

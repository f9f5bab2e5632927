/**
 * The errors Azure answers about an operation rather than its input, word for word so that
 * clients and their retry logic meet what they would meet on Azure: an operation the model cannot
 * do, an unknown deployment, a quota's 429 (with retry-after and retry-after-ms), and the
 * answers of injected faults (400, 401, 403, 404, 500, 503 or any other status).
 */
import type { DeploymentConfig, Operation } from "./deployments.js";
import { azureError, invalidRequest, type SimulatorHttpError } from "./errors.js";

function operationLabel(operation: Operation): string {
  return {
    "chat/completions": "chatCompletion",
    completions: "completion",
    embeddings: "embeddings",
    "audio/transcriptions": "transcription",
    "audio/translations": "translation",
    "audio/speech": "speech",
    "images/generations": "imageGeneration",
    "images/edits": "imageEdit",
    responses: "responses",
  }[operation];
}

function operationName(operation: Operation): string {
  return {
    "chat/completions": "ChatCompletions_Create",
    completions: "Completions_Create",
    embeddings: "Embeddings_Create",
    "audio/transcriptions": "AudioTranscriptions_Create",
    "audio/translations": "AudioTranslations_Create",
    "audio/speech": "AudioSpeech_Create",
    "images/generations": "ImageGenerations_Create",
    "images/edits": "ImageEdits_Create",
    responses: "Responses_Create",
  }[operation];
}

export function deploymentNotFound(): SimulatorHttpError {
  return azureError(
    404,
    "DeploymentNotFound",
    "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
  );
}

/** The 400 for an operation the deployment's model does not do (embeddings on a chat model, say). */
export function operationNotSupported(operation: Operation, deployment: DeploymentConfig): SimulatorHttpError {
  return azureError(
    400,
    "OperationNotSupported",
    `The ${operationLabel(operation)} operation does not work with the specified model, ${deployment.model}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.`,
  );
}

export function throttled(
  reason: "requests" | "tokens",
  retryAfterMs: number,
  operation: Operation,
  apiVersion: string | undefined,
  deployment: DeploymentConfig,
): SimulatorHttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return azureError(
    429,
    "429",
    `Requests to the ${operationName(operation)} Operation under Azure OpenAI API version ${apiVersion ?? "v1"} have exceeded ${reason === "tokens" ? "token rate limit" : "call rate limit"} of your current OpenAI S0 pricing tier (deployment ${deployment.name}). Please retry after ${seconds} second${seconds === 1 ? "" : "s"}. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
    { "retry-after": String(seconds), "retry-after-ms": String(Math.ceil(retryAfterMs)) },
  );
}

/** The answer of an injected status fault; a 429 is the quota's own. */
export function faultError(
  status: number,
  retryAfterMs: number | undefined,
  operation: Operation,
  apiVersion: string | undefined,
  deployment: DeploymentConfig,
): SimulatorHttpError {
  if (status === 429) return throttled("tokens", retryAfterMs ?? 1000, operation, apiVersion, deployment);
  const error = faultBody(status, operation);
  // 503s say when to come back, as Azure's do; other statuses only when the fault gives a time.
  const wait = retryAfterMs ?? (status === 503 ? 1000 : undefined);
  if (wait !== undefined)
    Object.assign(error.headers, { "retry-after": String(Math.max(1, Math.ceil(wait / 1000))), "retry-after-ms": String(wait) });
  return error;
}

function faultBody(status: number, operation: Operation): SimulatorHttpError {
  switch (status) {
    case 400:
      return invalidRequest("Injected fault: bad request.", null, "simulator_fault");
    case 401:
      return azureError(
        401,
        "401",
        "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.",
      );
    case 403:
      return azureError(
        403,
        "PermissionDenied",
        `The principal lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/deployments/${operation}/action\` to perform \`POST /openai/deployments/{deployment-id}/${operation}\` operation.`,
      );
    case 404:
      return azureError(404, "DeploymentNotFound", "The API deployment for this resource does not exist.");
    case 500:
      return azureError(500, "InternalServerError", "The server had an error while processing your request. Sorry about that!");
    case 503:
      return azureError(503, "ServiceUnavailable", "The service is temporarily unable to process your request. Please try again later.");
    default:
      return azureError(status, String(status), `Injected fault: HTTP ${status}.`);
  }
}

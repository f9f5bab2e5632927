/**
 * Which Azure OpenAI request a data-plane URL is: the dated paths
 * (`/openai/deployments/{deployment}/{operation}?api-version=...`), the v1 paths
 * (`/openai/v1/{operation}`, the deployment named by the body's `model`) and both models lists,
 * with Azure's own answers to a missing or unserved api-version and to the models list.
 */
import { isServedApiVersion } from "../../src/openai/api-versions.js";
import type { DeploymentConfig, Operation } from "./deployments.js";
import { azureError } from "./errors.js";
import { RESPONSES_PATH, parseResponsesRoute, type ResponsesRoute } from "./responses-routes.js";
import type { MultipartBody } from "./transcription.js";

export type Route =
  | { style: "dated"; kind: "op"; deployment: string; operation: Operation }
  | { style: "v1"; kind: "op"; operation: Operation }
  | { style: "dated" | "v1"; kind: "models"; id?: string }
  | ResponsesRoute;

export function parseRoute(path: string): Route | undefined {
  if (RESPONSES_PATH.test(path)) return parseResponsesRoute(path);
  const dated = path.match(/^\/openai\/deployments\/([^/]+)\/(.+?)\/?$/);
  if (dated) return { style: "dated", kind: "op", deployment: decodeURIComponent(dated[1]!), operation: dated[2] as Operation };
  if (/^\/openai\/models\/?$/.test(path)) return { style: "dated", kind: "models" };
  const models = path.match(/^\/openai\/v1\/models(?:\/([^/]+))?\/?$/);
  if (models) return { style: "v1", kind: "models", ...(models[1] ? { id: decodeURIComponent(models[1]) } : {}) };
  const v1 = path.match(/^\/openai\/v1\/(.+?)\/?$/);
  if (v1) return { style: "v1", kind: "op", operation: v1[1] as Operation };
  return undefined;
}

/**
 * Dated paths need an api-version that Azure OpenAI serves (the list in src/openai/api-versions.ts,
 * shared with the app's own settings check); v1 paths take none.
 *
 * An api-version Azure does not serve is answered as a path Azure does not have: 404
 * `{"error":{"code":"404","message":"Resource not found"}}`. That is what clients report meeting
 * for a wrong version: openai/openai-python#362 (api-version 2022-12-01, which predates chat, on
 * chat/completions: 404 with exactly that 56-byte body), microsoft/azurechat#426 (a wrong
 * AZURE_OPENAI_API_VERSION: "404 Resource not found", fixed by a served version) and
 * langchain-ai/langchain#13284 (a model version, "0613", given as api-version: the same 404).
 * @throws SimulatorHttpError 400 MissingApiVersionParameter without one; 404 for one Azure does not serve.
 */
export function checkApiVersion(route: Route, apiVersion: string | undefined): void {
  if (route.style !== "dated") return;
  if (!apiVersion)
    throw azureError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
  if (!isServedApiVersion(apiVersion)) throw azureError(404, "404", "Resource not found");
}

/**
 * The models list (`id` undefined) or one model, from the deployments.
 * @throws SimulatorHttpError 404 DeploymentNotFound for an unknown model id.
 */
export function modelsAnswer(deployments: readonly DeploymentConfig[], id: string | undefined): unknown {
  const models = deployments.map(modelObject);
  const body = id === undefined ? { object: "list", data: models } : models.find((model) => model.id === id);
  if (!body) throw azureError(404, "DeploymentNotFound", `The model '${id}' does not exist.`);
  return body;
}

function modelObject(deployment: DeploymentConfig) {
  return {
    id: deployment.name,
    object: "model" as const,
    created: 1_720_000_000,
    owned_by: "system",
    model: deployment.model,
    capabilities: {
      chat_completion: deployment.capability === "chat",
      completion: deployment.capability === "completions",
      embeddings: deployment.capability === "embeddings",
      inference: true,
    },
  };
}

/** The body's `model` field: on v1 paths it names the deployment. */
export function modelField(body: Record<string, unknown> | MultipartBody, multipart: boolean): string | undefined {
  const field = multipart ? (body as MultipartBody).fields.model : (body as Record<string, unknown>).model;
  const value = Array.isArray(field) ? field[0] : field;
  return typeof value === "string" && value ? value : undefined;
}

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { BadInputError } from "../errors.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { answerError } from "../http/error-response.js";
import { readJsonObject, readUploadBytes } from "../http/request-body.js";
import { jsonResponse } from "../http/responses.js";
import { tableOf, turnedOffAnswer } from "../http/turned-off.js";
import { modelsFor } from "../routing/models.js";

import { backendHeader } from "../routing/http.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

const SETTING = "AZURE_OPENAI_IMAGES_DEPLOYMENT";

/**
 * POST /api/v1/images/generations: OpenAI's image generation, served by the images deployment
 * (AZURE_OPENAI_IMAGES_DEPLOYMENT), answered as Azure answers (b64_json, usage, content-filter
 * results). 404 model_not_found while images are turned off.
 */
export async function imageGenerations(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const { secrets, logger, callerGone, caller } = startHttpInvocation(context, request);
  try {
    const config = getProcessConfig();
    const json = await readJsonObject(request, config.http.maxRequestBytes);
    const deployment = config.openai.deployments.images;
    if (!deployment)
      return turnedOffAnswer(
        "Image generation",
        SETTING,
        typeof json.model === "string" ? json.model : undefined,
        tableOf(config, "images"),
      );
    // Loaded on first use: validation pulls in zod, which would otherwise slow every cold start.
    const [{ parseImageGeneration }, { generateImages }] = await Promise.all([
      import("../images/images-request.js"),
      import("../images/images-call.js"),
    ]);
    const imagesRequest = parseImageGeneration(json, modelsFor(config.openai, "images"));
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const answered = await router.run(router.route("images", imagesRequest.deployment), { logger, signal: callerGone, caller }, (target) =>
      generateImages(
        { client: target.client, logger: target.logger },
        { ...imagesRequest, deployment: target.backend.deployment },
        callerGone,
      ),
    );
    return jsonResponse(200, answered.value, backendHeader(answered.backend));
  } catch (error) {
    return answerError(error, "Image generation", logger, secrets);
  }
}

/**
 * POST /api/v1/images/edits: OpenAI's image edits (multipart: image or image[], optional mask,
 * prompt), where the images deployment does edits (gpt-image-1; Azure refuses dall-e-3 with 400).
 * The upload may be as large as HTTP_MAX_AUDIO_BYTES, the app's limit for uploads.
 */
export async function imageEdits(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const { secrets, logger, callerGone, caller } = startHttpInvocation(context, request);
  try {
    const config = getProcessConfig();
    const contentType = request.headers.get("content-type") ?? "";
    const bytes = await readUploadBytes(request, config.http.maxAudioBytes, "HTTP_MAX_AUDIO_BYTES");
    const deployment = config.openai.deployments.images;
    if (!deployment) return turnedOffAnswer("Image edits", SETTING, undefined, tableOf(config, "images"));
    if (!contentType.toLowerCase().startsWith("multipart/form-data"))
      throw new BadInputError("Image edits take multipart/form-data (image, prompt, ...)", { code: "invalid_content_type" });
    let form: FormData;
    try {
      form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
    } catch (error) {
      throw new BadInputError(`The multipart body could not be read (${(error as Error).message})`, { code: "invalid_multipart" });
    }
    const [{ parseImageEdit }, { editImages }] = await Promise.all([
      import("../images/images-request.js"),
      import("../images/images-call.js"),
    ]);
    const editRequest = parseImageEdit(form, modelsFor(config.openai, "images"));
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const answered = await router.run(router.route("images", editRequest.deployment), { logger, signal: callerGone, caller }, (target) =>
      editImages({ client: target.client, logger: target.logger }, { ...editRequest, deployment: target.backend.deployment }, callerGone),
    );
    return jsonResponse(200, answered.value, backendHeader(answered.backend));
  } catch (error) {
    return answerError(error, "Image edit", logger, secrets);
  }
}

app.http("images-generations", {
  route: "v1/images/generations",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: imageGenerations,
});

app.http("images-edits", {
  route: "v1/images/edits",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: imageEdits,
});

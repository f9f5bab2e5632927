/**
 * Image generation and edits against Azure OpenAI through the shared client, answered as Azure
 * answered them: `b64_json` images (the GPT image models send nothing else), `usage` in tokens, and
 * Azure's content-filter results on each image (`content_filter_results`, `prompt_filter_results`),
 * which the client keeps as they are. Each call is logged with its tokens. One attempt, as for chat.
 */
import type { OpenAI } from "openai";
import type { ImageEditParamsNonStreaming, ImageGenerateParamsNonStreaming, ImagesResponse } from "openai/resources/images";
import type { Logger } from "../logging.js";
import { loggedCall } from "../openai/call-log.js";
import type { ImageEditRequest, ImageGenerationRequest } from "./images-request.js";
import { imageTimeoutInMs } from "./generation-timeout.js";

type Deps = { client: OpenAI; logger: Logger };

/** @throws the client's error; classify it with classifyError. */
export function generateImages(deps: Deps, request: ImageGenerationRequest, signal: AbortSignal): Promise<ImagesResponse> {
  const params = { ...request.body, model: request.deployment } as ImageGenerateParamsNonStreaming;
  return logged(deps, "images.generate", request.deployment, () =>
    deps.client.images.generate(params, { signal, timeout: imageTimeoutInMs(deps.client.timeout) }).withResponse(),
  );
}

/** @throws the client's error; classify it with classifyError. */
export function editImages(deps: Deps, request: ImageEditRequest, signal: AbortSignal): Promise<ImagesResponse> {
  const params = {
    ...request.fields,
    model: request.deployment,
    // One file stays `image`; several (or a caller's `image[]`) go as OpenAI's array form.
    image: request.images.length === 1 && !request.imageArray ? request.images[0]! : request.images,
    ...(request.mask ? { mask: request.mask } : {}),
  } as ImageEditParamsNonStreaming;
  return logged(deps, "images.edit", request.deployment, () =>
    deps.client.images.edit(params, { signal, timeout: imageTimeoutInMs(deps.client.timeout) }).withResponse(),
  );
}

function logged(
  deps: Deps,
  operation: string,
  deployment: string,
  call: () => Promise<{ data: ImagesResponse; response: Response }>,
): Promise<ImagesResponse> {
  return loggedCall(deps.logger, { operation, deployment }, call, (data) => ({
    promptTokens: data.usage?.input_tokens,
    completionTokens: data.usage?.output_tokens,
    images: data.data?.length ?? 0,
  }));
}

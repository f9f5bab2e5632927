/**
 * One image generation request, retried as the retry policy says (src/queue-jobs/call-azure.ts),
 * and its images as bytes: gpt-image-1 always answers `b64_json`; a dall-e deployment answers a
 * `url` unless asked otherwise, which is downloaded (the request sends no `response_format`,
 * which gpt-image-1 refuses).
 */
import type { OpenAI } from "openai";
import { AppError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { RetryPolicy } from "../openai/retry-policy.js";
import { callWithRetries, type JobRouting } from "../queue-jobs/call-azure.js";
import type { Backend } from "../routing/index.js";
import { imageTimeoutInMs } from "./generation-timeout.js";

export interface GenerateImagesDependencies extends JobRouting {
  retry: RetryPolicy;
  logger: Logger;
}

export interface GeneratedImage {
  bytes: Buffer;
  revisedPrompt?: string;
  contentFilterResults?: unknown;
  promptFilterResults?: unknown;
}

export interface GeneratedImages {
  images: GeneratedImage[];
  size?: string;
  quality?: string;
  usage?: unknown;
  /** The backend that made them. */
  backend: Backend;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Generates `n` images for the prompt.
 * @throws AppError as classified (throttled past the budget, transient past the retries,
 *   upstream_permanent for Azure's 400s such as a content-filtered prompt or an unsupported size);
 *   `transient` when the answer holds fewer images than asked or one that is not a PNG.
 */
export async function generateImages(
  deps: GenerateImagesDependencies,
  request: { prompt: string; size?: string | undefined; quality?: string | undefined; n: number; name: string },
): Promise<GeneratedImages> {
  const { value, backend } = await callWithRetries(
    {
      operation: "images.generate",
      where: `images ${request.name}`,
      send: async ({ client, backend }, signal) => {
        const params = {
          model: backend.deployment,
          prompt: request.prompt,
          n: request.n,
          ...(request.size ? { size: request.size } : {}),
          ...(request.quality ? { quality: request.quality } : {}),
        } as OpenAI.Images.ImageGenerateParamsNonStreaming;
        const { data: answer, response } = await client.images
          .generate(params, { signal, timeout: imageTimeoutInMs(client.timeout) })
          .withResponse();
        const items = (answer.data ?? []) as (OpenAI.Images.Image & {
          content_filter_results?: unknown;
          prompt_filter_results?: unknown;
        })[];
        if (items.length !== request.n)
          throw new AppError("transient", `Azure OpenAI answered ${items.length} image(s) where ${request.n} were asked`, {
            code: "missing_images",
          });
        const images = await Promise.all(
          items.map(async (item, index) => {
            const bytes = item.b64_json ? Buffer.from(item.b64_json, "base64") : await download(item.url, signal);
            if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE))
              throw new AppError("transient", `Azure OpenAI's image ${index + 1} is not a PNG`, { code: "invalid_upstream_image" });
            return {
              bytes,
              ...(item.revised_prompt ? { revisedPrompt: item.revised_prompt } : {}),
              ...(item.content_filter_results !== undefined ? { contentFilterResults: item.content_filter_results } : {}),
              ...(item.prompt_filter_results !== undefined ? { promptFilterResults: item.prompt_filter_results } : {}),
            };
          }),
        );
        const extra = answer as { size?: string; quality?: string; usage?: unknown };
        return {
          value: {
            images,
            ...(extra.size ? { size: extra.size } : {}),
            ...(extra.quality ? { quality: extra.quality } : {}),
            ...(extra.usage !== undefined ? { usage: extra.usage } : {}),
          },
          response,
          usage: { images: images.length, promptTokens: answer.usage?.input_tokens, completionTokens: answer.usage?.output_tokens },
        };
      },
    },
    deps,
    deps.retry,
    deps.logger,
  );
  return { ...value, backend };
}

async function download(url: string | undefined, signal: AbortSignal | undefined): Promise<Buffer> {
  if (!url)
    throw new AppError("transient", "Azure OpenAI answered an image with neither b64_json nor url", { code: "invalid_upstream_image" });
  const response = await fetch(url, signal ? { signal } : {});
  if (!response.ok)
    throw new AppError("transient", `Downloading a generated image failed with ${response.status}`, { status: response.status });
  return Buffer.from(await response.arrayBuffer());
}

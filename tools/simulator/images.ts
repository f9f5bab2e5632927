/**
 * The image operations: generations for dall-e-2/dall-e-3 (PNGs, seeded gradients with soft
 * circles, as `b64_json` or as a `url` that the simulator serves under /_simulator/images/, the
 * latest 64 kept) and, for the GPT image models (gpt-image-1), generations and edits (multipart:
 * image(s) + prompt) answered always as `b64_json` in png, jpeg or webp with OpenAI's `usage`.
 * Requests are checked as OpenAI does for the deployment's model, and every image carries Azure's
 * content-filter results. Valid images, so code that decodes or stores them runs as against Azure.
 */
import { randomUUID } from "node:crypto";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { SAFE_FILTER, contentFilterError, invalidRequest } from "./errors.js";
import { jpegFile, pngFile, webpFile, type RgbImage } from "./image-formats.js";
import { operationNotSupported } from "./operation-errors.js";
import { Random, digest } from "./random.js";
import { O200K } from "./tokens.js";
import type { MultipartBody } from "./transcription.js";

/** An RGB raster: a smooth gradient with soft circles whose colours come from the seed. */
export function renderImage(width: number, height: number, seed: string): RgbImage {
  const random = new Random(seed);
  const fromColour = [random.int(0, 255), random.int(0, 255), random.int(0, 255)];
  const toColour = [random.int(0, 255), random.int(0, 255), random.int(0, 255)];
  const circles = Array.from({ length: 4 }, () => ({
    x: random.next() * width,
    y: random.next() * height,
    radius: (0.1 + random.next() * 0.25) * Math.min(width, height),
    colour: [random.int(0, 255), random.int(0, 255), random.int(0, 255)],
  }));
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const along = (x + y) / (width + height);
      let red = fromColour[0]! * (1 - along) + toColour[0]! * along;
      let green = fromColour[1]! * (1 - along) + toColour[1]! * along;
      let blue = fromColour[2]! * (1 - along) + toColour[2]! * along;
      for (const circle of circles) {
        const dx = x - circle.x;
        const dy = y - circle.y;
        const distanceSquared = dx * dx + dy * dy;
        if (distanceSquared < circle.radius * circle.radius) {
          const alpha = 1 - Math.sqrt(distanceSquared) / circle.radius;
          red = red * (1 - alpha) + circle.colour[0]! * alpha;
          green = green * (1 - alpha) + circle.colour[1]! * alpha;
          blue = blue * (1 - alpha) + circle.colour[2]! * alpha;
        }
      }
      const offset = (y * width + x) * 3;
      pixels[offset] = red;
      pixels[offset + 1] = green;
      pixels[offset + 2] = blue;
    }
  }
  return { width, height, pixels };
}

/** A valid RGB PNG of renderImage's raster. */
export function renderPng(width: number, height: number, seed: string): Buffer {
  return pngFile(renderImage(width, height, seed));
}

const SIZES: Record<string, string[]> = {
  "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
  "dall-e-2": ["256x256", "512x512", "1024x1024"],
};

/** Generated images kept for their `url`s, oldest dropped first. */
export class ImageStore {
  private images = new Map<string, Buffer>();
  constructor(private readonly limit = 64) {}
  put(png: Buffer): string {
    const id = randomUUID();
    this.images.set(id, png);
    if (this.images.size > this.limit) this.images.delete(this.images.keys().next().value as string);
    return id;
  }
  get(id: string): Buffer | undefined {
    return this.images.get(id);
  }
  clear(): void {
    this.images.clear();
  }
}

/**
 * Validates an image generation request; dall-e answers PNGs as `b64_json` or as a `url` served
 * by the simulator under /_simulator/images/, the GPT image models as prepareGptImage says.
 * @throws SimulatorHttpError 400 in OpenAI's shape.
 */
export function prepareImages(
  body: Record<string, unknown>,
  deployment: DeploymentConfig,
  seed: number,
  store: ImageStore,
  faults: { contentFilter: boolean },
): Prepared {
  if (isGptImage(deployment.model)) return prepareGptImage(body, [], deployment, seed, faults);
  const prompt = body.prompt;
  if (typeof prompt !== "string" || !prompt)
    throw invalidRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  if (prompt.length > 4000)
    throw invalidRequest(
      "Invalid 'prompt': string too long. Expected a string with maximum length 4000.",
      "prompt",
      "string_above_max_length",
    );
  const family = deployment.model.startsWith("dall-e-2") ? "dall-e-2" : "dall-e-3";
  const imageCount = body.n ?? 1;
  const maxImages = family === "dall-e-3" ? 1 : 10;
  if (typeof imageCount !== "number" || !Number.isInteger(imageCount) || imageCount < 1 || imageCount > maxImages)
    throw invalidRequest(`Invalid 'n': ${family} supports 1 to ${maxImages} images per request.`, "n", "invalid_value");
  const size = (body.size ?? "1024x1024") as string;
  if (!SIZES[family]!.includes(size))
    throw invalidRequest(
      `Invalid value: '${size}'. Supported values are: ${SIZES[family]!.map((supported) => `'${supported}'`).join(", ")}.`,
      "size",
      "invalid_value",
    );
  const format = body.response_format ?? "url";
  if (format !== "url" && format !== "b64_json")
    throw invalidRequest(
      `Invalid value: '${String(format)}'. Supported values are: 'url' and 'b64_json'.`,
      "response_format",
      "invalid_value",
    );
  if (body.quality !== undefined && !["standard", "hd"].includes(body.quality as string))
    throw invalidRequest(
      `Invalid value: '${String(body.quality)}'. Supported values are: 'standard' and 'hd'.`,
      "quality",
      "invalid_value",
    );
  if (body.style !== undefined && !["vivid", "natural"].includes(body.style as string))
    throw invalidRequest(`Invalid value: '${String(body.style)}'. Supported values are: 'vivid' and 'natural'.`, "style", "invalid_value");
  if (faults.contentFilter) throw contentFilterError();
  const [width, height] = size.split("x").map(Number) as [number, number];

  return {
    chargeTokens: 0,
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(ctx.latency.requestMs) + ctx.faults.delayMs))) return;
      const data = Array.from({ length: imageCount }, (_, i) => {
        const png = renderPng(width, height, digest(seed, prompt, size, i, ctx.random.nextUint32()));
        const image =
          format === "b64_json" ? { b64_json: png.toString("base64") } : { url: `${ctx.baseUrl}/_simulator/images/${store.put(png)}.png` };
        return {
          ...image,
          ...(family === "dall-e-3" ? { revised_prompt: prompt } : {}),
          ...imageFilterResults(),
        };
      });
      ctx.recordUsage(0, 0);
      ctx.sendJson(200, { created: Math.floor(Date.now() / 1000), data });
    },
  };
}

/**
 * Azure's content-filter results on each generated image, as its REST spec (2024-10-21 and later,
 * `imageResult`) and the Azure SDKs (`content_filter_results` / `prompt_filter_results` read per
 * image) describe them for dall-e: the output's four harm categories and the prompt's, with
 * jailbreak. Whether Azure attaches exactly these to gpt-image-1 answers is not documented that we
 * could find; the simulator assumes the same shape for every image model.
 */
function imageFilterResults() {
  return {
    content_filter_results: { hate: SAFE_FILTER, self_harm: SAFE_FILTER, sexual: SAFE_FILTER, violence: SAFE_FILTER },
    prompt_filter_results: {
      hate: SAFE_FILTER,
      jailbreak: { filtered: false, detected: false },
      self_harm: SAFE_FILTER,
      sexual: SAFE_FILTER,
      violence: SAFE_FILTER,
    },
  };
}

function isGptImage(model: string): boolean {
  return model.startsWith("gpt-image");
}

const GPT_IMAGE_SIZES = ["1024x1024", "1536x1024", "1024x1536", "auto"];
const GPT_IMAGE_QUALITIES = ["low", "medium", "high", "auto"];
const OUTPUT_FORMATS = ["png", "jpeg", "webp"] as const;
type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/** OpenAI's published output tokens per image for gpt-image-1, by quality and size. */
const OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { "1024x1024": 272, "1024x1536": 408, "1536x1024": 400 },
  medium: { "1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568 },
  high: { "1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208 },
};
/** Input image tokens, as the simulator counts a high-detail image in chat (85 + 4 tiles × 170). */
const INPUT_IMAGE_TOKENS = 765;

function choice(body: Record<string, unknown>, key: string, allowed: readonly string[]): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !allowed.includes(value))
    throw invalidRequest(
      `Invalid value: '${String(value)}'. Supported values are: ${allowed.map((name) => `'${name}'`).join(", ")}.`,
      key,
      "invalid_value",
    );
  return value;
}

/** An integer parameter that may come as a form field's string (edits are multipart). */
function integer(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const raw = body[key];
  if (raw === undefined || raw === null) return undefined;
  const value = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw invalidRequest(
      `Invalid '${key}': expected an integer between ${min} and ${max}, but got ${JSON.stringify(raw)} instead.`,
      key,
      "invalid_value",
    );
  return value;
}

/** Which container an uploaded image is, from its magic bytes. */
function imageKind(data: Buffer): "png" | "jpeg" | "webp" | undefined {
  if (data.length >= 8 && data.readUInt32BE(0) === 0x89504e47) return "png";
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return "jpeg";
  if (data.length >= 12 && data.toString("latin1", 0, 4) === "RIFF" && data.toString("latin1", 8, 12) === "WEBP") return "webp";
  return undefined;
}

/**
 * gpt-image-1 generations (`inputImages` empty) and edits: checks the parameters as OpenAI does
 * (no `response_format`: the answer is always `b64_json`; sizes 1024x1024, 1536x1024, 1024x1536,
 * auto; quality low/medium/high/auto; output_format png/jpeg/webp; n 1-10) and answers images
 * of that size and format with `usage` in tokens (OpenAI's published output tokens per image).
 * @throws SimulatorHttpError 400 in OpenAI's shape.
 */
function prepareGptImage(
  body: Record<string, unknown>,
  inputImages: readonly Buffer[],
  deployment: DeploymentConfig,
  seed: number,
  faults: { contentFilter: boolean },
): Prepared {
  const prompt = body.prompt;
  if (typeof prompt !== "string" || !prompt)
    throw invalidRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  if (prompt.length > 32_000)
    throw invalidRequest(
      `Invalid 'prompt': string too long. Expected a string with maximum length 32000, but got a string with length ${prompt.length} instead.`,
      "prompt",
      "string_above_max_length",
    );
  // The GPT image models always answer base64; OpenAI refuses the dall-e-only parameters.
  for (const key of ["response_format", "style"])
    if (body[key] !== undefined && body[key] !== null)
      throw invalidRequest(
        `Unknown parameter: '${key}'. It is not supported with the ${deployment.model} model.`,
        key,
        "unknown_parameter",
      );
  if (body.stream === true || body.stream === "true")
    throw invalidRequest(
      "The simulator does not stream image generation (partial images); ask without 'stream'.",
      "stream",
      "unsupported_value",
    );
  const imageCount = integer(body, "n", 1, 10) ?? 1;
  const requestedSize = choice(body, "size", GPT_IMAGE_SIZES) ?? "auto";
  const size = requestedSize === "auto" ? "1024x1024" : requestedSize;
  const requestedQuality = choice(body, "quality", GPT_IMAGE_QUALITIES) ?? "auto";
  const quality = requestedQuality === "auto" ? "high" : requestedQuality;
  const format = (choice(body, "output_format", OUTPUT_FORMATS) ?? "png") as OutputFormat;
  integer(body, "output_compression", 0, 100);
  const background = choice(body, "background", ["transparent", "opaque", "auto"]) ?? "auto";
  if (background === "transparent" && format === "jpeg")
    throw invalidRequest(
      "Transparent background is not supported for the jpeg output format; use png or webp.",
      "background",
      "invalid_value",
    );
  choice(body, "moderation", ["low", "auto"]);
  if (faults.contentFilter) throw contentFilterError();
  const [width, height] = size.split("x").map(Number) as [number, number];
  const textTokens = O200K.count(prompt);
  const imageTokens = inputImages.length * INPUT_IMAGE_TOKENS;
  const outputTokens = OUTPUT_TOKENS[quality]![size]! * imageCount;
  const inputSeed = inputImages.map((image) => digest(0, image.toString("base64").slice(0, 4096))).join(":");

  return {
    chargeTokens: textTokens + imageTokens + outputTokens,
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(ctx.latency.requestMs) + ctx.faults.delayMs))) return;
      const encode = format === "jpeg" ? jpegFile : format === "webp" ? webpFile : pngFile;
      const data = Array.from({ length: imageCount }, (_, i) => ({
        b64_json: encode(renderImage(width, height, digest(seed, prompt, inputSeed, size, i, ctx.random.nextUint32()))).toString("base64"),
        ...imageFilterResults(),
      }));
      ctx.recordUsage(textTokens + imageTokens, outputTokens);
      ctx.sendJson(200, {
        created: Math.floor(Date.now() / 1000),
        // The background the model chose: the simulator's images are opaque unless asked otherwise.
        background: background === "transparent" ? "transparent" : "opaque",
        data,
        output_format: format,
        quality,
        size,
        usage: {
          input_tokens: textTokens + imageTokens,
          input_tokens_details: { image_tokens: imageTokens, text_tokens: textTokens },
          output_tokens: outputTokens,
          output_tokens_details: { image_tokens: outputTokens, text_tokens: 0 },
          total_tokens: textTokens + imageTokens + outputTokens,
        },
      });
    },
  };
}

/** The file parts an image edit takes: up to 16 images (`image` or `image[]`) and a mask, each up to 50 MiB. */
export const IMAGE_EDIT_UPLOAD = { fileFields: ["image", "image[]", "mask"], maxFiles: 17, maxFileBytes: 50 * 1024 * 1024 } as const;

/**
 * Validates an image edit (gpt-image-1 only: dall-e-3 does not edit) and answers as a generation
 * from the prompt and the uploaded images. The images must be png, jpeg or webp; a mask, png.
 * @throws SimulatorHttpError 400 OperationNotSupported for a dall-e deployment, or OpenAI's 400 on the input.
 */
export function prepareImageEdit(
  upload: MultipartBody,
  deployment: DeploymentConfig,
  seed: number,
  faults: { contentFilter: boolean },
): Prepared {
  if (!isGptImage(deployment.model)) throw operationNotSupported("images/edits", deployment);
  const images = (upload.files ?? []).filter((part) => part.field === "image" || part.field === "image[]");
  if (images.length === 0) throw invalidRequest("Missing required parameter: 'image'.", "image", "missing_required_parameter");
  if (images.length > 16)
    throw invalidRequest(`Invalid 'image': expected at most 16 images, but got ${images.length}.`, "image", "invalid_value");
  images.forEach((image, i) => {
    if (!imageKind(image.data))
      throw invalidRequest(
        `Invalid file 'image${images.length > 1 ? `[${i}]` : ""}' (${image.name}): unsupported image format. Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.`,
        "image",
        "invalid_image_format",
      );
  });
  const mask = (upload.files ?? []).find((part) => part.field === "mask");
  if (mask && imageKind(mask.data) !== "png")
    throw invalidRequest(`Invalid file 'mask' (${mask.name}): the mask must be a PNG image.`, "mask", "invalid_image_format");
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(upload.fields)) body[key] = Array.isArray(value) ? value[0] : value;
  return prepareGptImage(
    body,
    images.map((image) => image.data),
    deployment,
    seed,
    faults,
  );
}

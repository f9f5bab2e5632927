/**
 * Image generation and edit requests as this app accepts them (OpenAI's /images bodies): the JSON
 * of a generation and the multipart form of an edit, checked so that malformed input is answered
 * 400 by us with the field named, while what we don't know passes through. What a model supports
 * (dall-e-3 has no edits and no `output_format`; gpt-image-1 no `response_format`) is Azure's to
 * say; its 400 passes on. Streamed (partial image) answers are not served here.
 */
import { z } from "zod";
import { BadInputError } from "../errors.js";
import { resolveDeployment } from "../http/chat-request.js";
import { integerIn, validateBody } from "../http/validation.js";

const commonFields = {
  model: z.string().optional(),
  prompt: z
    .string({ error: "must be a string describing the image" })
    .min(1, { error: "must not be empty" })
    .max(32_000, { error: "must be at most 32000 characters" }),
  n: integerIn(1, 10).nullable().optional(),
  size: z.string().nullable().optional(),
  quality: z.string().nullable().optional(),
  response_format: z.enum(["url", "b64_json"], { error: "must be url or b64_json" }).nullable().optional(),
  output_format: z.enum(["png", "jpeg", "webp"], { error: "must be one of png, jpeg, webp" }).nullable().optional(),
  output_compression: integerIn(0, 100).nullable().optional(),
  background: z.enum(["transparent", "opaque", "auto"], { error: "must be one of transparent, opaque, auto" }).nullable().optional(),
  stream: z.literal(false, { error: "must be false: streamed (partial) images are not served by this endpoint" }).nullable().optional(),
  user: z.string().optional(),
};

export const imageGenerationSchema = z.looseObject({
  ...commonFields,
  moderation: z.enum(["low", "auto"], { error: "must be low or auto" }).nullable().optional(),
  style: z.enum(["vivid", "natural"], { error: "must be vivid or natural" }).nullable().optional(),
});

const imageEditFieldsSchema = z.looseObject({ ...commonFields, input_fidelity: z.enum(["high", "low"]).nullable().optional() });

export interface ImageGenerationRequest {
  deployment: string;
  /** The body to forward, without `model` (set by us). */
  body: Record<string, unknown> & { prompt: string };
}

/**
 * @throws BadInputError naming the field at fault, or `model_not_found` for another model.
 */
export function parseImageGeneration(json: unknown, models: readonly string[]): ImageGenerationRequest {
  const { model, ...body } = validateBody(imageGenerationSchema, json);
  return { deployment: resolveDeployment(model, models, "image generation"), body };
}

export interface ImageEditRequest {
  deployment: string;
  images: File[];
  /** The form sent `image[]` (an array, even of one) rather than `image`. */
  imageArray: boolean;
  mask: File | undefined;
  /** The other fields, typed as OpenAI's (numbers for `n` and `output_compression`). */
  fields: Record<string, unknown> & { prompt: string };
}

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"];

/**
 * Reads an edit's multipart form: `image` or `image[]` (1-16 png/jpeg/webp files), an optional
 * `mask`, `prompt` and the generation fields (numbers arrive as text and are checked as numbers).
 * @throws BadInputError naming the field at fault, or `model_not_found` for another model.
 */
export function parseImageEdit(form: FormData, models: readonly string[]): ImageEditRequest {
  const images: File[] = [];
  let imageArray = false;
  let mask: File | undefined;
  const fields: Record<string, unknown> = {};
  for (const [name, value] of form.entries()) {
    if (name === "image" || name === "image[]") {
      if (typeof value === "string")
        throw new BadInputError(`'${name}' must be an image file, not text`, { param: "image", code: "invalid_type" });
      imageArray ||= name === "image[]";
      images.push(value);
    } else if (name === "mask") {
      if (typeof value === "string")
        throw new BadInputError("'mask' must be a PNG file, not text", { param: "mask", code: "invalid_type" });
      mask = value;
    } else if (typeof value === "string") {
      fields[name] = (name === "n" || name === "output_compression") && /^-?\d+$/.test(value) ? Number(value) : value;
    }
  }
  if (images.length === 0)
    throw new BadInputError("'image' is required: send the image to edit as a file part named image (or image[] for several)", {
      param: "image",
      code: "missing_required_parameter",
    });
  if (images.length > 16)
    throw new BadInputError(`'image' takes at most 16 images (got ${images.length})`, { param: "image", code: "invalid_value" });
  images.forEach((image, i) => {
    if (image.type && !IMAGE_TYPES.includes(image.type))
      throw new BadInputError(`'image${imageArray ? `[${i}]` : ""}' must be a png, jpeg or webp image (got ${image.type})`, {
        param: "image",
        code: "invalid_value",
      });
  });
  const { model, ...body } = validateBody(imageEditFieldsSchema, fields);
  return { deployment: resolveDeployment(model, models, "image edits"), images, imageArray, mask, fields: body };
}

/**
 * The images queue's message contract:
 *   {"id"?: string, "prompt": string, "size"?: string, "quality"?: string, "n"?: 1-10, "enqueuedAt"?: string}
 * Sizes and qualities are those of gpt-image-1 and of dall-e-3 (the deployment decides which it
 * takes: one it refuses is Azure's 400, a rejected message). Unknown fields are rejected.
 */
import { z } from "zod";
import { enqueuedAtSchema, idSchema, parseJobMessage } from "../queue-jobs/payload.js";

export const IMAGE_SIZES = ["auto", "1024x1024", "1536x1024", "1024x1536", "1792x1024", "1024x1792"] as const;
export const IMAGE_QUALITIES = ["auto", "low", "medium", "high", "standard", "hd"] as const;
/** Longest prompt gpt-image-1 takes (dall-e-3: 4000, which Azure enforces). */
export const MAX_PROMPT_CHARACTERS = 32_000;
export const MAX_IMAGES = 10;

export const imagesMessageSchema = z.strictObject({
  id: idSchema.optional(),
  prompt: z
    .string({ error: "must be a string: what to draw" })
    .max(MAX_PROMPT_CHARACTERS, `must be at most ${MAX_PROMPT_CHARACTERS} characters`)
    .refine((text) => text.trim() !== "", "is empty or only whitespace; describe the image"),
  size: z.enum(IMAGE_SIZES, { error: `must be one of ${IMAGE_SIZES.join(", ")}` }).optional(),
  quality: z.enum(IMAGE_QUALITIES, { error: `must be one of ${IMAGE_QUALITIES.join(", ")}` }).optional(),
  n: z
    .number({ error: `must be a whole number from 1 to ${MAX_IMAGES}` })
    .int(`must be a whole number from 1 to ${MAX_IMAGES}`)
    .min(1, `must be a whole number from 1 to ${MAX_IMAGES}`)
    .max(MAX_IMAGES, `must be a whole number from 1 to ${MAX_IMAGES} (one request makes at most ${MAX_IMAGES})`)
    .optional(),
  model: z.string({ error: "must be a string: a model that generates images" }).min(1).max(64).optional(),
  enqueuedAt: enqueuedAtSchema.optional(),
});

export interface ImagesJob extends z.infer<typeof imagesMessageSchema> {
  id: string;
}

/**
 * Checks an images message and settles its id (default: the queue message id).
 * @throws BadInputError (`invalid_json`, `json_too_deep`, `schema_violation`).
 */
export function parseImagesMessage(payload: unknown, queueMessageId: string): ImagesJob {
  return parseJobMessage(payload, queueMessageId, imagesMessageSchema, {
    example: '{"prompt": "a red fox in the snow"}',
    allowedFields: ["id", "prompt", "size", "quality", "n", "model", "enqueuedAt"],
  });
}

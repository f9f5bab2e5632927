/**
 * The speech queue's message contract:
 *   {"id"?: string, "input": string, "voice": string, "format"?: "mp3" | "opus" | "aac" | "flac" | "wav" | "pcm",
 *    "instructions"?: string, "model"?: string, "enqueuedAt"?: string}
 * `model` names a model of the routing table that serves speech (default: the configured one).
 * Unknown fields are rejected, so a typo fails loudly. `enqueuedAt` is the app's own, on work it
 * hands back (src/queue-jobs/run-job.ts).
 */
import { z } from "zod";
import { enqueuedAtSchema, idSchema, parseJobMessage } from "../queue-jobs/payload.js";

/** The voices of Azure OpenAI's gpt-4o-mini-tts (tts and tts-hd take the first six of them and more). */
export const SPEECH_VOICES = ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"] as const;

/** Output formats the speech API answers in. */
export const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];

/** Longest text one speech request takes; longer text is spoken in parts (split-text.ts). */
export const MAX_CHARACTERS_PER_REQUEST = 4096;

/** Longest text a message may carry (about 2 hours of speech); the queue's 64 KiB stops most texts earlier. */
export const MAX_SPEECH_CHARACTERS = 200_000;

/** Longest `instructions` (tone, accent, pace) gpt-4o-mini-tts takes. */
export const MAX_INSTRUCTIONS_CHARACTERS = 4096;

export const speechMessageSchema = z.strictObject({
  id: idSchema.optional(),
  input: z
    .string({ error: "must be a string: the text to speak" })
    .max(MAX_SPEECH_CHARACTERS, `must be at most ${MAX_SPEECH_CHARACTERS} characters; send longer texts in several messages`)
    .refine((text) => text.trim() !== "", "is empty or only whitespace; give text to speak"),
  voice: z.enum(SPEECH_VOICES, { error: `must be one of ${SPEECH_VOICES.join(", ")}` }),
  format: z.enum(SPEECH_FORMATS, { error: `must be one of ${SPEECH_FORMATS.join(", ")}` }).optional(),
  instructions: z
    .string({ error: "must be a string" })
    .max(MAX_INSTRUCTIONS_CHARACTERS, `must be at most ${MAX_INSTRUCTIONS_CHARACTERS} characters`)
    .optional(),
  model: z.string({ error: "must be a string: a model that serves speech" }).min(1).max(64).optional(),
  enqueuedAt: enqueuedAtSchema.optional(),
});

export interface SpeechJob extends z.infer<typeof speechMessageSchema> {
  id: string;
}

/**
 * Checks a speech message and settles its id (default: the queue message id).
 * @throws BadInputError (`invalid_json`, `json_too_deep`, `schema_violation`).
 */
export function parseSpeechMessage(payload: unknown, queueMessageId: string): SpeechJob {
  return parseJobMessage(payload, queueMessageId, speechMessageSchema, {
    example: '{"input": "Hello there.", "voice": "alloy"}',
    allowedFields: ["id", "input", "voice", "format", "instructions", "model", "enqueuedAt"],
  });
}

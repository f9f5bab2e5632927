/**
 * The text-to-speech request as this app accepts it (OpenAI's /audio/speech body): checked so that
 * malformed input is answered 400 by us with the field named, while fields we don't know pass
 * through. Which model takes `instructions` is Azure's to say (gpt-4o-mini-tts does, tts-1 does
 * not), so that is left to it and its 400 passes on.
 */
import { z } from "zod";
import { resolveDeployment } from "../http/chat-request.js";
import { numberIn, validateBody } from "../http/validation.js";

export const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];

export const speechRequestSchema = z.looseObject({
  model: z.string().optional(),
  input: z.string().min(1, { error: "must not be empty" }).max(4096, { error: "must be at most 4096 characters" }),
  voice: z.union([z.string().min(1), z.looseObject({ id: z.string().min(1) })], {
    error: 'must be a voice name (e.g. "alloy") or {"id": "voice_..."}',
  }),
  response_format: z.enum(SPEECH_FORMATS, { error: `must be one of ${SPEECH_FORMATS.join(", ")}` }).optional(),
  speed: numberIn(0.25, 4).optional(),
  instructions: z.string().max(4096, { error: "must be at most 4096 characters" }).optional(),
  stream_format: z.enum(["audio", "sse"], { error: "must be audio or sse" }).optional(),
});

export type SpeechRequestBody = z.output<typeof speechRequestSchema>;

export interface SpeechRequest {
  deployment: string;
  /** The body to forward, `model` set by us. */
  body: Omit<SpeechRequestBody, "model">;
  format: SpeechFormat;
  /** Characters to speak, for the usage log. */
  characters: number;
}

/**
 * Validates a speech body and resolves its deployment (the configured speech deployment).
 * @throws BadInputError naming the field at fault, or `model_not_found` for another model.
 */
export function parseSpeechRequest(json: unknown, models: readonly string[]): SpeechRequest {
  const { model, ...body } = validateBody(speechRequestSchema, json);
  return {
    deployment: resolveDeployment(model, models, "text to speech"),
    body,
    format: body.response_format ?? "mp3",
    characters: body.input.length,
  };
}

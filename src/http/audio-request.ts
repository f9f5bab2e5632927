/**
 * Validates the fields of an OpenAI audio request (POST /v1/audio/transcriptions and
 * /v1/audio/translations) into the transcription options the shared pipeline takes. Fields follow
 * OpenAI's spec (CreateTranscriptionRequest, CreateTranslationRequest): `file`, `model`,
 * `language` (transcriptions), `prompt`, `temperature`, `response_format`,
 * `timestamp_granularities[]` (transcriptions, verbose_json only). Unlike chat, unknown fields are
 * refused rather than passed through: the app builds each Azure request itself (one per chunk of
 * a split file), so a field it does not know would be silently dropped.
 */
import { BadInputError } from "../errors.js";
import { isIso639_1, type TranscriptionOptions, type TranscriptionTask } from "../transcription/options.js";
import { resolveDeployment } from "./chat-request.js";
import type { AudioUpload, UploadedAudio } from "./multipart-audio.js";

export const AUDIO_RESPONSE_FORMATS = ["json", "text", "srt", "verbose_json", "vtt"] as const;
export type AudioResponseFormat = (typeof AUDIO_RESPONSE_FORMATS)[number];

export interface AudioRequest {
  task: TranscriptionTask;
  /** The model to transcribe with: a name in the routing table (each chunk goes to one of its backends). */
  deployment: string;
  /** The options of the shared pipeline (`formats` is unused here: the answer has one format). */
  options: TranscriptionOptions;
  responseFormat: AudioResponseFormat;
  /** verbose_json: segments unless only words were asked for; words when asked for. */
  segments: boolean;
  words: boolean;
  file: UploadedAudio;
}

const COMMON_FIELDS = ["model", "prompt", "temperature", "response_format"];
const TRANSCRIPTION_FIELDS = [...COMMON_FIELDS, "language", "timestamp_granularities[]", "timestamp_granularities"];

/**
 * Checks the upload's fields.
 * @throws BadInputError naming the field (`param`): `missing_required_parameter` (no file),
 *   `model_not_found`, `invalid_value`, `unknown_parameter`, `unsupported_value` (stream).
 */
export function parseAudioRequest(upload: AudioUpload, task: TranscriptionTask, models: readonly string[]): AudioRequest {
  const endpoint = task === "translate" ? "audio translations" : "audio transcriptions";
  const known = task === "translate" ? COMMON_FIELDS : TRANSCRIPTION_FIELDS;
  const single = (name: string): string | undefined => {
    const values = upload.fields.get(name);
    if (values && values.length > 1)
      throw new BadInputError(`'${name}' is given ${values.length} times; give it once`, { param: name, code: "invalid_value" });
    return values?.[0];
  };
  if (upload.fields.has("stream") && single("stream") !== "false") {
    throw new BadInputError(`Streaming is not supported for ${endpoint} with Whisper; leave 'stream' out`, {
      param: "stream",
      code: "unsupported_value",
    });
  }
  for (const name of upload.fields.keys()) {
    if (name === "stream" || name === "file") continue;
    if (!known.includes(name)) {
      throw new BadInputError(
        `Unrecognized request argument supplied: ${name}. ${endpoint} take ${["file", ...known.filter((f) => f !== "timestamp_granularities")].join(", ")}`,
        {
          param: name,
          code: "unknown_parameter",
        },
      );
    }
  }
  if (upload.fields.has("file"))
    throw new BadInputError("'file' must be a file part, not a text field", { param: "file", code: "invalid_value" });
  if (!upload.file) throw new BadInputError("Missing required parameter: 'file'", { param: "file", code: "missing_required_parameter" });

  const deployment = resolveDeployment(single("model"), models, endpoint);

  const responseFormat = (single("response_format") ?? "json") as AudioResponseFormat;
  if (!AUDIO_RESPONSE_FORMATS.includes(responseFormat)) {
    throw new BadInputError(`Invalid value '${responseFormat}' for 'response_format'; use one of ${AUDIO_RESPONSE_FORMATS.join(", ")}`, {
      param: "response_format",
      code: "invalid_value",
    });
  }

  const options: TranscriptionOptions = { task, formats: [] };
  const language = single("language");
  if (language !== undefined && language !== "") {
    if (!isIso639_1(language)) {
      throw new BadInputError(`Invalid language '${language}'; give the spoken language as an ISO-639-1 code such as 'en', 'de' or 'ja'`, {
        param: "language",
        code: "invalid_value",
      });
    }
    options.language = language;
  }
  const prompt = single("prompt");
  if (prompt) options.prompt = prompt;
  const temperature = single("temperature");
  if (temperature !== undefined && temperature !== "") {
    const value = Number(temperature);
    if (!/^\s*\d*\.?\d+(e-?\d+)?\s*$/i.test(temperature) || !(value >= 0 && value <= 1)) {
      throw new BadInputError(`Invalid value '${temperature}' for 'temperature'; use a number from 0 to 1`, {
        param: "temperature",
        code: "invalid_value",
      });
    }
    options.temperature = value;
  }

  const granularities = [
    ...(upload.fields.get("timestamp_granularities[]") ?? []),
    ...(upload.fields.get("timestamp_granularities") ?? []),
  ];
  for (const granularity of granularities) {
    if (granularity !== "word" && granularity !== "segment") {
      throw new BadInputError(`Invalid value '${granularity}' for 'timestamp_granularities[]'; use 'word' and/or 'segment'`, {
        param: "timestamp_granularities[]",
        code: "invalid_value",
      });
    }
  }
  if (granularities.length > 0 && responseFormat !== "verbose_json") {
    throw new BadInputError("timestamp_granularities[] needs response_format 'verbose_json'", {
      param: "timestamp_granularities[]",
      code: "invalid_value",
    });
  }
  return {
    task,
    deployment,
    options,
    responseFormat,
    segments: granularities.length === 0 || granularities.includes("segment"),
    words: granularities.includes("word"),
    file: upload.file,
  };
}

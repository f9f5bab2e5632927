/**
 * Validates the fields of an OpenAI audio request (POST /v1/audio/transcriptions and
 * /v1/audio/translations) into the transcription options the shared pipeline takes. Fields follow
 * OpenAI's spec (CreateTranscriptionRequest, CreateTranslationRequest): `file`, `model`,
 * `language` (transcriptions), `prompt`, `temperature`, `response_format`,
 * `timestamp_granularities[]` (transcriptions, verbose_json only), and for the gpt-4o transcribe
 * models `chunking_strategy`, `include[]`, `known_speaker_names[]` / `known_speaker_references[]`,
 * each refused on a model that does not take it, as Azure refuses it (transcription-models.ts),
 * and so is a response_format the model does not answer. Unlike chat, unknown fields are
 * refused rather than passed through: the app builds each Azure request itself (one per chunk of
 * a split file), so a field it does not know would be silently dropped.
 */
import { BadInputError } from "../errors.js";
import { isIso639_1, type TranscriptionOptions, type TranscriptionTask } from "../transcription/options.js";
import { MODEL_ABILITIES, modelKindOfName, type TranscriptionModelKind } from "../transcription/transcription-models.js";
import type { KnownSpeakers, ModelExtras } from "../transcription/whisper.js";
import { resolveDeployment } from "./chat-request.js";
import type { AudioUpload, UploadedAudio } from "./multipart-audio.js";

export const AUDIO_RESPONSE_FORMATS = ["json", "text", "srt", "verbose_json", "vtt", "diarized_json"] as const;
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
  /** What the model is (transcription-models.ts). */
  kind: TranscriptionModelKind;
  /** The gpt-4o models' fields the caller set, sent with every chunk. */
  extras: ModelExtras;
  /** The diarizing model: the caller's known speakers. */
  knownSpeakers?: KnownSpeakers;
}

const COMMON_FIELDS = ["model", "prompt", "temperature", "response_format"];
const TRANSCRIPTION_FIELDS = [
  ...COMMON_FIELDS,
  "language",
  "timestamp_granularities[]",
  "timestamp_granularities",
  "chunking_strategy",
  "include[]",
  "known_speaker_names[]",
  "known_speaker_references[]",
];
/** Azure's speaker labels, A, B, ...: the names of speakers a split file's chunks find (speakers.ts). */
const LETTERS = Array.from({ length: 26 }, (_, i) => String.fromCharCode(65 + i));

/**
 * Checks the upload's fields.
 * @throws BadInputError naming the field (`param`): `missing_required_parameter` (no file),
 *   `model_not_found`, `invalid_value`, `unknown_parameter`, `unsupported_value` (stream).
 */
export function parseAudioRequest(
  upload: AudioUpload,
  task: TranscriptionTask,
  models: readonly string[],
  kindOf: (model: string) => TranscriptionModelKind = modelKindOfName,
): AudioRequest {
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
  const kind = kindOf(deployment);
  const abilities = MODEL_ABILITIES[kind];
  const refuse = (param: string, message: string) => new BadInputError(message, { param, code: "unsupported_value" });
  if (task === "translate" && !abilities.translate)
    throw refuse(
      "model",
      `The model '${deployment}' (${kind}) does not translate; only Whisper models do. Use /audio/transcriptions, or a Whisper model`,
    );

  const responseFormat = (single("response_format") ?? "json") as AudioResponseFormat;
  if (!AUDIO_RESPONSE_FORMATS.includes(responseFormat)) {
    throw new BadInputError(`Invalid value '${responseFormat}' for 'response_format'; use one of ${AUDIO_RESPONSE_FORMATS.join(", ")}`, {
      param: "response_format",
      code: "invalid_value",
    });
  }

  if (!abilities.responseFormats.includes(responseFormat) || (task === "translate" && responseFormat === "diarized_json"))
    throw refuse(
      "response_format",
      `response_format '${responseFormat}' is not available with the model '${deployment}' (${kind}); it answers ${abilities.responseFormats.join(", ")}. ` +
        "(Blobs dropped into the audio container get json, txt, srt and vtt from every model.)",
    );

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
  if (prompt && !abilities.prompt) throw refuse("prompt", `The model '${deployment}' (${kind}) takes no prompt; leave 'prompt' out`);
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
  if (granularities.length > 0 && !abilities.timestamps)
    throw refuse("timestamp_granularities[]", `The model '${deployment}' (${kind}) gives no timestamps; only Whisper models do`);
  if (granularities.length > 0 && responseFormat !== "verbose_json") {
    throw new BadInputError("timestamp_granularities[] needs response_format 'verbose_json'", {
      param: "timestamp_granularities[]",
      code: "invalid_value",
    });
  }
  const extras = modelExtras(upload, single, { deployment, kind, responseFormat, refuse });
  const knownSpeakers = knownSpeakersOf(upload, { deployment, kind, refuse });
  if (abilities.diarize) {
    options.speakers = true;
    // Speakers new to a split file's later chunks are lettered on, as Azure letters them.
    options.speakerNames = LETTERS;
  }
  return {
    task,
    deployment,
    options,
    responseFormat,
    segments: granularities.length === 0 || granularities.includes("segment"),
    words: granularities.includes("word"),
    file: upload.file,
    kind,
    extras,
    ...(knownSpeakers ? { knownSpeakers } : {}),
  };
}

interface ModelContext {
  deployment: string;
  kind: TranscriptionModelKind;
  refuse: (param: string, message: string) => BadInputError;
}

/** `chunking_strategy` ("auto" or a server_vad object as JSON) and `include[]=logprobs`, where the model takes them. */
function modelExtras(
  upload: AudioUpload,
  single: (name: string) => string | undefined,
  { deployment, kind, responseFormat, refuse }: ModelContext & { responseFormat: AudioResponseFormat },
): ModelExtras {
  const extras: ModelExtras = {};
  const chunking = single("chunking_strategy");
  if (chunking !== undefined && chunking !== "") {
    if (kind === "whisper")
      throw refuse("chunking_strategy", `The model '${deployment}' (whisper) takes no chunking_strategy; leave it out`);
    extras.chunkingStrategy = parseChunkingStrategy(chunking);
  }
  const include = upload.fields.get("include[]") ?? [];
  for (const item of include) {
    if (item !== "logprobs")
      throw new BadInputError(`Invalid value '${item}' for 'include[]'; the only value is 'logprobs'`, {
        param: "include[]",
        code: "invalid_value",
      });
    if (!MODEL_ABILITIES[kind].logprobs)
      throw refuse(
        "include[]",
        `The model '${deployment}' (${kind}) gives no logprobs; only gpt-4o-transcribe and gpt-4o-mini-transcribe do`,
      );
    if (responseFormat !== "json") throw refuse("include[]", "include[]=logprobs needs response_format 'json'");
    extras.logprobs = true;
  }
  return extras;
}

function parseChunkingStrategy(raw: string): NonNullable<ModelExtras["chunkingStrategy"]> {
  if (raw === "auto") return "auto";
  const invalid = () =>
    new BadInputError(
      `Invalid value for 'chunking_strategy'; use 'auto' or a JSON object {"type": "server_vad", "prefix_padding_ms": 300, "silence_duration_ms": 200, "threshold": 0.5}`,
      { param: "chunking_strategy", code: "invalid_value" },
    );
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw invalid();
  }
  if (typeof value !== "object" || value === null || (value as { type?: unknown }).type !== "server_vad") throw invalid();
  const { type: _type, ...rest } = value as Record<string, unknown>;
  const vad: { type: "server_vad"; prefix_padding_ms?: number; silence_duration_ms?: number; threshold?: number } = { type: "server_vad" };
  for (const [key, field] of Object.entries(rest)) {
    if (typeof field !== "number" || !["prefix_padding_ms", "silence_duration_ms", "threshold"].includes(key)) throw invalid();
    vad[key as "threshold"] = field;
  }
  return vad;
}

/** The diarizing model's known speakers: as many names as references (data URLs of audio), at most 4. */
function knownSpeakersOf(upload: AudioUpload, { deployment, kind, refuse }: ModelContext): KnownSpeakers | undefined {
  const names = upload.fields.get("known_speaker_names[]") ?? [];
  const references = upload.fields.get("known_speaker_references[]") ?? [];
  if (names.length === 0 && references.length === 0) return undefined;
  const abilities = MODEL_ABILITIES[kind];
  if (!abilities.diarize)
    throw refuse(
      "known_speaker_names[]",
      `The model '${deployment}' (${kind}) takes no known speakers; only gpt-4o-transcribe-diarize does`,
    );
  const invalid = (message: string) => new BadInputError(message, { param: "known_speaker_references[]", code: "invalid_value" });
  if (names.length !== references.length)
    throw invalid(`${names.length} known_speaker_names[] and ${references.length} known_speaker_references[]: give one reference per name`);
  if (names.length > abilities.maxKnownSpeakers) throw invalid(`At most ${abilities.maxKnownSpeakers} known speakers; got ${names.length}`);
  references.forEach((reference, i) => {
    if (!/^data:audio\/[\w.+-]+;base64,[A-Za-z0-9+/]+=*$/.test(reference))
      throw invalid(`known_speaker_references[${i}] must be a data URL of 2-10 s of audio: data:audio/wav;base64,...`);
  });
  return { names, references };
}

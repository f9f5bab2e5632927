/**
 * Per-file options, read from the audio blob's metadata. Every invalid value is reported (all at
 * once) rather than ignored, because a silently dropped `language=english` produces a transcript
 * the user did not ask for and nobody notices.
 */
import { BadInputError } from "../errors.js";
import { MODEL_ABILITIES, modelKindOfName, type TranscriptionModelKind } from "./transcription-models.js";

export const OUTPUT_FORMATS = ["json", "txt", "srt", "vtt"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type TranscriptionTask = "transcribe" | "translate";

export interface TranscriptionOptions {
  task: TranscriptionTask;
  /** ISO-639-1 code of the spoken language; Whisper detects it when absent. */
  language?: string;
  prompt?: string;
  temperature?: number;
  formats: OutputFormat[];
  /** The routing table's model to transcribe with, when the blob names one (else the configured default). */
  model?: string;
  /** Label who speaks (a diarizing model): set by `speakers=true`, `speaker_names`, or a diarizing model itself. */
  speakers?: boolean;
  /** Names for the speakers, in the order they first speak (`speaker_names`, comma-separated). */
  speakerNames?: string[];
  /** Word times in the JSON output (Whisper, `words=true`). */
  words?: boolean;
}

/** The metadata keys read; any other metadata on the blob is the user's and is left alone. */
export const OPTION_KEYS = ["language", "prompt", "temperature", "task", "formats", "model", "speakers", "speaker_names", "words"] as const;

/** More names than a meeting has speakers is a mistake; 20 is far above what diarization tells apart. */
const MAX_SPEAKER_NAMES = 20;
const MAX_SPEAKER_NAME_CHARS = 40;

// ISO 639-1 codes (two letters). Whisper supports a subset; it rejects the rest with a clear 400.
const ISO_639_1 = new Set(
  (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el " +
    "en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu " +
    "ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na " +
    "nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so " +
    "sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
  ).split(" "),
);

/** True for an ISO-639-1 code (lower case), the form Whisper's `language` takes. */
export function isIso639_1(code: string): boolean {
  return ISO_639_1.has(code);
}

/** Whisper reads only the last 224 tokens of a prompt; 1000 characters is comfortably more. */
const MAX_PROMPT_CHARS = 1000;

/**
 * Parses the options from blob metadata (keys are case-insensitive, as Azure treats them).
 * @param models the models that serve transcription, the default first; `model` must be one of them.
 * @throws BadInputError (code `invalid_options`) listing every invalid value and how to fix it.
 */
export function parseTranscriptionOptions(
  metadata: Readonly<Record<string, string | undefined>>,
  models?: readonly string[],
  kindOf: (model: string) => TranscriptionModelKind = modelKindOfName,
): TranscriptionOptions {
  const values = new Map(Object.entries(metadata).map(([key, value]) => [key.toLowerCase(), value?.trim() ?? ""]));
  const problems: string[] = [];
  const options: TranscriptionOptions = { task: "transcribe", formats: [...OUTPUT_FORMATS] };

  const task = values.get("task");
  if (task !== undefined && task !== "") {
    if (task === "transcribe" || task === "translate") options.task = task;
    else problems.push(`task "${task}" is not valid; use "transcribe" or "translate" (into English)`);
  }

  const language = values.get("language");
  if (language !== undefined && language !== "") {
    const code = language.toLowerCase();
    if (!ISO_639_1.has(code)) problems.push(`language "${language}" is not an ISO-639-1 code; use two letters such as "en", "de" or "ja"`);
    else if (options.task === "translate")
      problems.push(
        `language "${language}" cannot be used with task "translate" (translation detects the spoken language itself); remove the language metadata`,
      );
    else options.language = code;
  }

  const prompt = values.get("prompt");
  if (prompt !== undefined && prompt !== "") {
    const decoded = decodePrompt(prompt);
    if (decoded.length > MAX_PROMPT_CHARS)
      problems.push(`prompt is ${decoded.length} characters; keep it under ${MAX_PROMPT_CHARS} (Whisper uses only the last 224 tokens)`);
    else options.prompt = decoded;
  }

  const temperature = values.get("temperature");
  if (temperature !== undefined && temperature !== "") {
    const value = Number(temperature);
    if (!/^\d*\.?\d+$/.test(temperature) || !(value >= 0 && value <= 1))
      problems.push(`temperature "${temperature}" is not a number from 0 to 1`);
    else options.temperature = value;
  }

  const formats = values.get("formats");
  if (formats !== undefined && formats !== "") {
    const requested = formats
      .split(/[\s,;]+/)
      .filter(Boolean)
      .map((f) => f.toLowerCase());
    const unknown = requested.filter((f) => !(OUTPUT_FORMATS as readonly string[]).includes(f));
    if (unknown.length > 0 || requested.length === 0) {
      problems.push(
        `formats "${formats}" contains ${unknown.map((f) => `"${f}"`).join(", ") || "nothing"}; use a comma-separated subset of ${OUTPUT_FORMATS.join(", ")}`,
      );
    } else {
      options.formats = OUTPUT_FORMATS.filter((f) => requested.includes(f));
    }
  }

  const model = values.get("model");
  if (model !== undefined && model !== "") {
    if (models === undefined || models.includes(model)) options.model = model;
    else
      problems.push(
        `model "${model}" is not a model that transcribes here; use ${models.map((m) => `"${m}"`).join(" or ") || "(none)"}, or remove the model metadata to use the default`,
      );
  }

  const speakers = readFlag(values, "speakers", problems);
  const words = readFlag(values, "words", problems);
  const names = values.get("speaker_names");
  if (names !== undefined && names !== "") {
    const list = decodePrompt(names)
      .split(",")
      .map((name) => name.trim());
    if (list.some((name) => name === "" || name.length > MAX_SPEAKER_NAME_CHARS) || list.length > MAX_SPEAKER_NAMES)
      problems.push(
        `speaker_names "${names}" must be up to ${MAX_SPEAKER_NAMES} comma-separated names of 1-${MAX_SPEAKER_NAME_CHARS} characters, e.g. "Ana,Ben"`,
      );
    else if (new Set(list).size !== list.length) problems.push(`speaker_names "${names}" names someone twice; give each speaker one name`);
    else options.speakerNames = list;
  }
  if (words) options.words = true;
  checkModelOptions(options, { speakers, models, kindOf }, problems);

  if (problems.length > 0) {
    throw new BadInputError(`Invalid transcription options in the blob's metadata: ${problems.join("; ")}.`, {
      code: "invalid_options",
      details: { problems },
    });
  }
  return options;
}

/** A true/false option; absent or empty is undefined. */
function readFlag(values: ReadonlyMap<string, string>, key: string, problems: string[]): boolean | undefined {
  const raw = values.get(key);
  if (raw === undefined || raw === "") return undefined;
  const value = raw.toLowerCase();
  if (value === "true" || value === "false") return value === "true";
  problems.push(`${key} "${raw}" is not valid; use "true" or "false"`);
  return undefined;
}

/**
 * Picks the model for speaker labels and refuses what the chosen model cannot do (Azure would
 * refuse it, or the app would have to drop it): translation and word times on a gpt-4o model,
 * a prompt on the diarizing model, speaker labels on a model that does not diarize.
 */
function checkModelOptions(
  options: TranscriptionOptions,
  context: { speakers: boolean | undefined; models: readonly string[] | undefined; kindOf: (model: string) => TranscriptionModelKind },
  problems: string[],
): void {
  const { models, kindOf } = context;
  const wantsSpeakers = context.speakers === true || (context.speakers === undefined && options.speakerNames !== undefined);
  if (context.speakers === false && options.speakerNames !== undefined)
    problems.push("speaker_names needs speaker labels; remove speakers=false or the speaker_names");
  let model = options.model ?? models?.[0];
  if (wantsSpeakers && options.model === undefined && model !== undefined && !MODEL_ABILITIES[kindOf(model)].diarize) {
    // No model named: speaker labels pick the first model that diarizes.
    const diarizing = models?.find((candidate) => MODEL_ABILITIES[kindOf(candidate)].diarize);
    if (diarizing === undefined) {
      problems.push(
        "speakers=true needs a gpt-4o-transcribe-diarize deployment, and none is configured; add one (AZURE_OPENAI_TRANSCRIPTION_MODELS or AZURE_OPENAI_DEPLOYMENTS) or remove speakers",
      );
      return;
    }
    options.model = diarizing;
    model = diarizing;
  }
  if (model === undefined) return;
  const kind = kindOf(model);
  const abilities = MODEL_ABILITIES[kind];
  const named = `model "${model}" (${kind})`;
  if (wantsSpeakers && !abilities.diarize)
    problems.push(`${named} does not label speakers; use a gpt-4o-transcribe-diarize model or remove speakers/speaker_names`);
  if (abilities.diarize && context.speakers !== false) options.speakers = true;
  if (options.task === "translate" && !abilities.translate)
    problems.push(`${named} does not translate (only Whisper does); use a Whisper model or task=transcribe`);
  if (options.prompt !== undefined && !abilities.prompt) problems.push(`${named} takes no prompt; remove the prompt metadata`);
  if (options.words && !abilities.timestamps)
    problems.push(`${named} gives no word times (only Whisper does); use a Whisper model or remove words`);
  if (options.words && options.task === "translate")
    problems.push("words=true cannot be used with task=translate (translations have no word times)");
}

/**
 * Blob metadata travels as HTTP headers, so it can hold only ASCII; a prompt in another script is
 * stored percent-encoded (encodeURIComponent) and decoded here. Text that isn't valid percent
 * encoding ("100% sure") is used as it is.
 */
function decodePrompt(raw: string): string {
  if (!/%[0-9A-Fa-f]{2}/.test(raw)) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * The transcription and translation operations (Whisper): reads the multipart upload, checks it
 * as Azure does (file, real audio format, response_format, timestamp granularities, language,
 * temperature), and answers a transcript whose length and timing follow the audio's real
 * duration, in every response format (json, text, srt, vtt, verbose_json with words and segments).
 * The app's transcription pipeline can thus be tested on chunking, stitching and billing offline.
 *
 * The gpt-4o transcribe models behave as Azure documents them (the app's
 * test/fixtures/transcription/model-abilities.json says where): gpt-4o-transcribe and
 * gpt-4o-mini-transcribe answer json (text, token usage, logprobs when asked) or text only;
 * gpt-4o-transcribe-diarize answers json, text or diarized_json (segments with speakers,
 * diarize.ts), takes no prompt, needs `chunking_strategy` for audio over 30 s and takes up to 4
 * known speakers (names with 2-10 s reference clips as data URLs); only Whisper translates and
 * gives timestamp granularities.
 */
import { createHash } from "node:crypto";
import { CorruptAudioError, audioInfo, type AudioInfo } from "./audio-format.js";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { dominantVoice, speakerLabels, voiceRuns } from "./diarize.js";
import { packetTranscript } from "./packet-transcript.js";
import { invalidRequest } from "./errors.js";
import { operationNotSupported } from "./operation-errors.js";
import { Random, digest } from "./random.js";
import { CL100K, generateProse } from "./tokens.js";

export interface UploadedFile {
  name: string;
  contentType: string;
  data: Buffer;
}

export interface MultipartBody {
  fields: Record<string, string | string[]>;
  /** The `file` part (transcriptions, translations). */
  file?: UploadedFile;
  /** Every file part the operation takes, in order, with its form name (image edits: `image`, `image[]`, `mask`). */
  files?: (UploadedFile & { field: string })[];
}

const FORMATS = ["json", "text", "srt", "verbose_json", "vtt", "diarized_json"] as const;
type ResponseFormat = (typeof FORMATS)[number];

type ModelKind = "whisper" | "gpt-4o-transcribe" | "gpt-4o-mini-transcribe" | "gpt-4o-transcribe-diarize";

/** The response formats each model answers. */
const MODEL_FORMATS: Record<ModelKind, readonly ResponseFormat[]> = {
  whisper: ["json", "text", "srt", "verbose_json", "vtt"],
  "gpt-4o-transcribe": ["json", "text"],
  "gpt-4o-mini-transcribe": ["json", "text"],
  "gpt-4o-transcribe-diarize": ["json", "text", "diarized_json"],
};

/** The model kind of a deployment's model name (gpt-4o-mini-transcribe-2025-12-15 is gpt-4o-mini-transcribe). */
export function modelKind(model: string): ModelKind {
  for (const kind of ["gpt-4o-transcribe-diarize", "gpt-4o-mini-transcribe", "gpt-4o-transcribe"] as const)
    if (model.includes(kind)) return kind;
  return "whisper";
}

/** The longest audio a request may hold, as the API's 400 says (quoted in public issue threads; Whisper has only the 25 MB limit). */
const MAX_REQUEST_SECONDS: Record<ModelKind, number | undefined> = {
  whisper: undefined,
  "gpt-4o-transcribe": 1500,
  "gpt-4o-mini-transcribe": 1500,
  "gpt-4o-transcribe-diarize": 1400,
};

/** Audio longer than this needs chunking_strategy on the diarizing model. */
const DIARIZE_UNCHUNKED_SECONDS = 30;
const MAX_KNOWN_SPEAKERS = 4;
const WORDS_PER_SECOND = 2.5;
const PACKET_FORMATS: ReadonlySet<string> = new Set(["flac", "ogg", "webm", "mp4", "m4a"]);

const LANGUAGES: Record<string, string> = {
  en: "english",
  de: "german",
  fr: "french",
  es: "spanish",
  it: "italian",
  pt: "portuguese",
  nl: "dutch",
  ja: "japanese",
  zh: "chinese",
  ko: "korean",
  ru: "russian",
  pl: "polish",
  sv: "swedish",
  tr: "turkish",
  ar: "arabic",
  hi: "hindi",
  uk: "ukrainian",
  cs: "czech",
  da: "danish",
  fi: "finnish",
  no: "norwegian",
  el: "greek",
  he: "hebrew",
  hu: "hungarian",
};

export interface Segment {
  id: number;
  seek: number;
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avg_logprob: number;
  compression_ratio: number;
  no_speech_prob: number;
  /** The diarizing model's label. */
  speaker?: string;
}

export interface Word {
  word: string;
  start: number;
  end: number;
}

function field(fields: MultipartBody["fields"], name: string): string | undefined {
  const value = fields[name];
  return Array.isArray(value) ? value[0] : value;
}

function list(fields: MultipartBody["fields"], name: string): string[] {
  const value = fields[`${name}[]`] ?? fields[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

const roundToMillisecond = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * Segments every few seconds covering [0, duration], with about 2.5 words a second: the text
 * follows the audio's real length. Deterministic for the same audio.
 */
export function transcribe(random: Random, duration: number, temperature: number): { segments: Segment[]; words: Word[]; text: string } {
  const segments: Segment[] = [];
  const words: Word[] = [];
  let position = 0;
  while (duration - position > 0.05) {
    let segmentSeconds = 3 + random.next() * 3;
    if (duration - position - segmentSeconds < 1.5) segmentSeconds = duration - position;
    const start = position;
    const end = position + segmentSeconds;
    const count = Math.max(1, Math.round(segmentSeconds * WORDS_PER_SECOND));
    const text = " " + generateProse(random, count);
    const segmentWords = text.trim().split(" ");
    segmentWords.forEach((word, i) => {
      words.push({
        word: word.replace(/[.,]$/, ""),
        start: roundToMillisecond(start + (i * segmentSeconds) / segmentWords.length),
        end: roundToMillisecond(start + ((i + 1) * segmentSeconds) / segmentWords.length),
      });
    });
    segments.push({
      id: segments.length,
      // Whisper's seek counts 10 ms frames at the start of its 30-second window.
      seek: Math.floor(start / 30) * 3000,
      start: roundToMillisecond(start),
      end: roundToMillisecond(end),
      text,
      tokens: CL100K.encode(text),
      temperature,
      avg_logprob: -(0.15 + random.next() * 0.25),
      compression_ratio: 1.2 + random.next() * 0.5,
      no_speech_prob: random.next() * 0.05,
    });
    position = end;
  }
  return {
    segments,
    words,
    text: segments
      .map((segment) => segment.text)
      .join("")
      .trim(),
  };
}

function timestamp(seconds: number, separator: "," | "."): string {
  const ms = Math.round(seconds * 1000);
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const wholeSeconds = Math.floor((ms % 60_000) / 1000);
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  return `${pad(hours)}:${pad(minutes)}:${pad(wholeSeconds)}${separator}${pad(ms % 1000, 3)}`;
}

export function toSrt(segments: Segment[]): string {
  return (
    segments
      .map((segment, i) => `${i + 1}\n${timestamp(segment.start, ",")} --> ${timestamp(segment.end, ",")}\n${segment.text.trim()}\n`)
      .join("\n") + "\n"
  );
}

export function toVtt(segments: Segment[]): string {
  return (
    "WEBVTT\n\n" +
    segments.map((segment) => `${timestamp(segment.start, ".")} --> ${timestamp(segment.end, ".")}\n${segment.text.trim()}\n`).join("\n") +
    "\n"
  );
}

/** A cheap fingerprint of large uploads: size, head and tail. */
function fingerprint(data: Buffer): string {
  const hash = createHash("sha256").update(String(data.length));
  hash.update(data.subarray(0, 65536));
  if (data.length > 65536) hash.update(data.subarray(Math.max(65536, data.length - 65536)));
  return hash.digest("hex");
}

/**
 * Validates a transcription or translation upload and reads the audio's real duration.
 * @throws SimulatorHttpError 400 for a missing file, an unsupported or corrupt format, or bad options.
 */
export function prepareTranscription(body: MultipartBody, deployment: DeploymentConfig, seed: number, translate: boolean): Prepared {
  const file = body.file;
  if (!file) throw invalidRequest("Missing required parameter: 'file'.", "file", "missing_required_parameter");
  if (file.data.length === 0) throw invalidRequest("Audio file is empty.", "file", "invalid_value");
  let info: AudioInfo | undefined;
  try {
    info = audioInfo(file.data);
  } catch (error) {
    if (error instanceof CorruptAudioError)
      throw invalidRequest(`Audio file might be corrupted or unsupported (${error.message}).`, "file", "invalid_value");
    throw error;
  }
  if (!info)
    throw invalidRequest(
      "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
      "file",
      "invalid_value",
    );
  const kind = modelKind(deployment.model);
  if (translate && kind !== "whisper") throw operationNotSupported("audio/translations", deployment);
  const format = (field(body.fields, "response_format") ?? "json") as ResponseFormat;
  if (!FORMATS.includes(format))
    throw invalidRequest(
      `Invalid value: '${format}'. Supported values are: 'json', 'text', 'srt', 'verbose_json', 'vtt', and 'diarized_json'.`,
      "response_format",
      "invalid_value",
    );
  if (!MODEL_FORMATS[kind].includes(format) || (translate && format === "diarized_json"))
    throw invalidRequest(
      `response_format '${format}' is not compatible with model '${deployment.model}'. Use ${MODEL_FORMATS[kind].map((f) => `'${f}'`).join(", ")}.`,
      "response_format",
      "unsupported_value",
    );
  const granularities = list(body.fields, "timestamp_granularities");
  if (granularities.length && kind !== "whisper")
    throw invalidRequest(
      `timestamp_granularities is not supported with model '${deployment.model}'.`,
      "timestamp_granularities",
      "unsupported_value",
    );
  for (const granularity of granularities)
    if (granularity !== "word" && granularity !== "segment")
      throw invalidRequest(
        `Invalid value: '${granularity}'. Supported values are: 'word' and 'segment'.`,
        "timestamp_granularities",
        "invalid_value",
      );
  if (granularities.length && format !== "verbose_json")
    throw invalidRequest(
      "timestamp_granularities is only supported when response_format is 'verbose_json'.",
      "timestamp_granularities",
      "invalid_value",
    );
  const language = field(body.fields, "language");
  if (language !== undefined && !/^[a-z]{2}$/.test(language))
    throw invalidRequest(
      `Invalid language '${language}'. Language parameter must be specified in ISO-639-1 format.`,
      "language",
      "invalid_value",
    );
  const temperatureText = field(body.fields, "temperature");
  const temperature = temperatureText === undefined ? 0 : Number(temperatureText);
  if (!(temperature >= 0 && temperature <= 1))
    throw invalidRequest(
      `Invalid 'temperature': expected a number between 0 and 1, got '${temperatureText}'.`,
      "temperature",
      "invalid_value",
    );
  const prompt = field(body.fields, "prompt") ?? "";
  if (prompt !== "" && kind === "gpt-4o-transcribe-diarize")
    throw invalidRequest(`prompt is not supported with the diarization model '${deployment.model}'.`, "prompt", "unsupported_value");
  const include = list(body.fields, "include");
  for (const item of include) {
    if (item !== "logprobs")
      throw invalidRequest(`Invalid value: '${item}'. Supported values are: 'logprobs'.`, "include", "invalid_value");
    if (kind !== "gpt-4o-transcribe" && kind !== "gpt-4o-mini-transcribe")
      throw invalidRequest(`include[]=logprobs is not supported with model '${deployment.model}'.`, "include", "unsupported_value");
    if (format !== "json")
      throw invalidRequest("include[]=logprobs is only supported when response_format is 'json'.", "include", "unsupported_value");
  }
  const chunking = chunkingStrategy(body.fields, kind, deployment);
  if (kind === "gpt-4o-transcribe-diarize" && chunking === undefined && info.durationSeconds > DIARIZE_UNCHUNKED_SECONDS)
    throw invalidRequest(
      `chunking_strategy is required for diarization models when the audio is longer than ${DIARIZE_UNCHUNKED_SECONDS} seconds (this audio is ${info.durationSeconds.toFixed(1)} s). Set chunking_strategy to 'auto'.`,
      "chunking_strategy",
      "invalid_value",
    );
  const knownVoices = knownSpeakers(body.fields, kind, deployment);
  const maxSeconds = MAX_REQUEST_SECONDS[kind];
  if (maxSeconds !== undefined && info.durationSeconds > maxSeconds)
    throw invalidRequest(
      `audio duration ${info.durationSeconds} seconds is longer than ${maxSeconds} seconds which is the maximum for this model`,
      null,
      "invalid_value",
    );
  const audio = info;

  return {
    chargeTokens: 0,
    audio: { format: info.format, durationSeconds: info.durationSeconds },
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(audio.durationSeconds * ctx.latency.audioRealTimeFactor * 1000) + ctx.faults.delayMs))) return;
      const random = new Random(digest(seed, deployment.model, fingerprint(file.data), translate, language ?? "", temperature));
      // Containers of packets get words from their packets (the same audio, the same words, in any chunk).
      const fromPackets =
        kind !== "gpt-4o-transcribe-diarize" && PACKET_FORMATS.has(audio.format)
          ? await packetTranscript(file.data, digest(seed, deployment.model, translate, language ?? "", temperature), temperature)
          : undefined;
      const { segments, words, text } =
        kind === "gpt-4o-transcribe-diarize"
          ? diarizedTranscript(random, file.data, audio.durationSeconds, knownVoices)
          : (fromPackets ?? transcribe(random, audio.durationSeconds, temperature));
      const languageName = translate ? "english" : (LANGUAGES[language ?? "en"] ?? language ?? "english");
      const promptTokens = CL100K.count(prompt);
      const outputTokens = segments.reduce((sum, segment) => sum + segment.tokens.length, 0);
      ctx.recordUsage(promptTokens, outputTokens);
      const usage = { type: "duration", seconds: Math.ceil(audio.durationSeconds) };
      if (kind === "gpt-4o-transcribe" || kind === "gpt-4o-mini-transcribe") {
        if (format === "text") return ctx.sendBytes(200, "text/plain; charset=utf-8", text + "\n");
        // Billed by tokens: audio tokens for the input plus the prompt, text tokens out. The
        // simulator counts 10 audio tokens a second, its own round figure, not Azure's tokenizer.
        const audioTokens = Math.ceil(audio.durationSeconds * 10);
        return ctx.sendJson(200, {
          text,
          ...(include.includes("logprobs") ? { logprobs: logprobsOf(random, text) } : {}),
          usage: {
            type: "tokens",
            input_tokens: audioTokens + promptTokens,
            input_token_details: { text_tokens: promptTokens, audio_tokens: audioTokens },
            output_tokens: outputTokens,
            total_tokens: audioTokens + promptTokens + outputTokens,
          },
        });
      }
      switch (format) {
        case "diarized_json":
          return ctx.sendJson(200, {
            task: "transcribe",
            duration: Math.round(audio.durationSeconds * 1000) / 1000,
            text,
            segments: segments.map((segment) => ({
              type: "transcript.text.segment",
              id: `seg_${segment.id}`,
              start: segment.start,
              end: segment.end,
              text: segment.text.trim(),
              speaker: segment.speaker,
            })),
            usage,
          });
        case "text":
          return ctx.sendBytes(200, "text/plain; charset=utf-8", text + "\n");
        case "srt":
          return ctx.sendBytes(200, "text/plain; charset=utf-8", toSrt(segments));
        case "vtt":
          // text/plain like text and srt: Azure's 2024-10-21 specification answers all three as text/plain.
          return ctx.sendBytes(200, "text/plain; charset=utf-8", toVtt(segments));
        case "json":
          return ctx.sendJson(200, translate ? { text } : { text, usage });
        case "verbose_json": {
          const wantWords = granularities.includes("word");
          const wantSegments = granularities.length === 0 || granularities.includes("segment");
          return ctx.sendJson(200, {
            task: translate ? "translate" : "transcribe",
            language: languageName,
            duration: Math.round(audio.durationSeconds * 1000) / 1000,
            text,
            ...(wantWords ? { words } : {}),
            ...(wantSegments ? { segments } : {}),
            ...(translate ? {} : { usage }),
          });
        }
      }
    },
  };
}

/**
 * The diarizing model's transcript: segments follow the voices heard (diarize.ts), each labelled
 * with its speaker: a known speaker's name when a reference clip has its voice, else A, B, ...
 */
function diarizedTranscript(
  random: Random,
  audio: Buffer,
  duration: number,
  known: ReadonlyMap<number, string>,
): { segments: Segment[]; words: Word[]; text: string } {
  const runs = voiceRuns(audio, duration, random);
  const labels = speakerLabels(runs, known);
  const segments: Segment[] = runs.map((run, id) => {
    const length = run.end - run.start;
    const segmentText = " " + generateProse(random, Math.max(1, Math.round(length * WORDS_PER_SECOND)));
    return {
      id,
      seek: Math.floor(run.start / 30) * 3000,
      start: roundToMillisecond(run.start),
      end: roundToMillisecond(run.end),
      text: segmentText,
      tokens: CL100K.encode(segmentText),
      temperature: 0,
      avg_logprob: -(0.15 + random.next() * 0.25),
      compression_ratio: 1.2 + random.next() * 0.5,
      no_speech_prob: random.next() * 0.05,
      speaker: labels.get(run.voice)!,
    };
  });
  return { segments, words: [], text: segments.map((segment) => segment.text.trim()).join(" ") };
}

/**
 * `chunking_strategy`: "auto", or a server_vad object (sent as JSON, or as the `openai` client
 * sends objects: chunking_strategy[type]=server_vad and its other keys). Only the gpt-4o models take it.
 * @throws SimulatorHttpError 400 for another value, or on Whisper.
 */
function chunkingStrategy(fields: MultipartBody["fields"], kind: ModelKind, deployment: DeploymentConfig): string | undefined {
  const raw = field(fields, "chunking_strategy");
  const vadType = field(fields, "chunking_strategy[type]");
  if (raw === undefined && vadType === undefined) return undefined;
  if (kind === "whisper")
    throw invalidRequest(`chunking_strategy is not supported with model '${deployment.model}'.`, "chunking_strategy", "unsupported_value");
  if (raw === "auto") return "auto";
  let type = vadType;
  if (raw !== undefined) {
    try {
      type = (JSON.parse(raw) as { type?: string }).type;
    } catch {
      type = undefined;
    }
  }
  if (type !== "server_vad")
    throw invalidRequest(
      `Invalid chunking_strategy '${raw ?? vadType}'. Use 'auto' or an object with type 'server_vad'.`,
      "chunking_strategy",
      "invalid_value",
    );
  return "server_vad";
}

/**
 * known_speaker_names[] and known_speaker_references[]: the diarizing model only, as many names
 * as references, at most 4, each reference a data URL of 2-10 s of audio.
 * @returns each reference's voice (diarize.ts) with its name.
 * @throws SimulatorHttpError 400 naming what is wrong.
 */
function knownSpeakers(fields: MultipartBody["fields"], kind: ModelKind, deployment: DeploymentConfig): Map<number, string> {
  const names = list(fields, "known_speaker_names");
  const references = list(fields, "known_speaker_references");
  const voices = new Map<number, string>();
  if (names.length === 0 && references.length === 0) return voices;
  if (kind !== "gpt-4o-transcribe-diarize")
    throw invalidRequest(
      `known_speaker_names and known_speaker_references are only supported with gpt-4o-transcribe-diarize, not '${deployment.model}'.`,
      "known_speaker_names",
      "unsupported_value",
    );
  if (names.length !== references.length)
    throw invalidRequest(
      `known_speaker_names has ${names.length} entries and known_speaker_references ${references.length}; give one reference per name.`,
      "known_speaker_references",
      "invalid_value",
    );
  if (names.length > MAX_KNOWN_SPEAKERS)
    throw invalidRequest(
      `At most ${MAX_KNOWN_SPEAKERS} known speakers are supported; got ${names.length}.`,
      "known_speaker_names",
      "invalid_value",
    );
  references.forEach((reference, i) => {
    const match = /^data:audio\/[\w.+-]+;base64,([A-Za-z0-9+/=]+)$/.exec(reference);
    if (!match)
      throw invalidRequest(
        `known_speaker_references[${i}] must be a base64 data URL of audio (data:audio/...;base64,...).`,
        "known_speaker_references",
        "invalid_value",
      );
    const clip = Buffer.from(match[1]!, "base64");
    let clipInfo: AudioInfo | undefined;
    try {
      clipInfo = audioInfo(clip);
    } catch {
      clipInfo = undefined;
    }
    if (!clipInfo)
      throw invalidRequest(
        `known_speaker_references[${i}] is not audio in a supported format.`,
        "known_speaker_references",
        "invalid_value",
      );
    if (clipInfo.durationSeconds < 2 || clipInfo.durationSeconds > 10)
      throw invalidRequest(
        `known_speaker_references[${i}] is ${clipInfo.durationSeconds.toFixed(2)} s long; each reference must be between 2 and 10 seconds.`,
        "known_speaker_references",
        "invalid_value",
      );
    const voice = dominantVoice(clip);
    if (voice !== undefined && !voices.has(voice)) voices.set(voice, names[i]!);
  });
  return voices;
}

/** Token log-probabilities for include[]=logprobs: one per word, as the gpt-4o models answer them. */
function logprobsOf(random: Random, text: string): { token: string; logprob: number; bytes: number[] }[] {
  return text
    .split(/(?= )/)
    .filter(Boolean)
    .map((token) => ({ token, logprob: -(random.next() * 0.5), bytes: [...Buffer.from(token, "utf8")] }));
}

/**
 * The transcription and translation operations (Whisper): reads the multipart upload, checks it
 * as Azure does (file, real audio format, response_format, timestamp granularities, language,
 * temperature), and answers a transcript whose length and timing follow the audio's real
 * duration, in every response format (json, text, srt, vtt, verbose_json with words and segments).
 * The app's transcription pipeline can thus be tested on chunking, stitching and billing offline.
 */
import { createHash } from "node:crypto";
import { CorruptAudioError, audioInfo, type AudioInfo } from "./audio-format.js";
import type { Prepared, RequestContext } from "./context.js";
import type { DeploymentConfig } from "./deployments.js";
import { packetTranscript } from "./packet-transcript.js";
import { invalidRequest } from "./errors.js";
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

const FORMATS = ["json", "text", "srt", "verbose_json", "vtt"] as const;
type ResponseFormat = (typeof FORMATS)[number];
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
  const format = (field(body.fields, "response_format") ?? "json") as ResponseFormat;
  if (!FORMATS.includes(format))
    throw invalidRequest(
      `Invalid value: '${format}'. Supported values are: 'json', 'text', 'srt', 'verbose_json', and 'vtt'.`,
      "response_format",
      "invalid_value",
    );
  const granularities = list(body.fields, "timestamp_granularities");
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
  const audio = info;

  return {
    chargeTokens: 0,
    audio: { format: info.format, durationSeconds: info.durationSeconds },
    respond: async (ctx: RequestContext) => {
      if (!(await ctx.sleep(ctx.sampleMs(audio.durationSeconds * ctx.latency.audioRealTimeFactor * 1000) + ctx.faults.delayMs))) return;
      const random = new Random(digest(seed, deployment.model, fingerprint(file.data), translate, language ?? "", temperature));
      // Containers of packets get words from their packets (the same audio, the same words, in any chunk).
      const fromPackets = PACKET_FORMATS.has(audio.format)
        ? await packetTranscript(file.data, digest(seed, deployment.model, translate, language ?? "", temperature), temperature)
        : undefined;
      const { segments, words, text } = fromPackets ?? transcribe(random, audio.durationSeconds, temperature);
      const languageName = translate ? "english" : (LANGUAGES[language ?? "en"] ?? language ?? "english");
      const promptTokens = CL100K.count(prompt);
      ctx.recordUsage(
        promptTokens,
        segments.reduce((sum, segment) => sum + segment.tokens.length, 0),
      );
      const usage = { type: "duration", seconds: Math.ceil(audio.durationSeconds) };
      switch (format) {
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

/**
 * What each transcription model Azure OpenAI serves accepts and answers: Whisper, and the
 * gpt-4o transcribe models (gpt-4o-transcribe, gpt-4o-mini-transcribe, gpt-4o-transcribe-diarize).
 * The app sends each model only what it takes (whisper.ts) and refuses a blob's option the model
 * cannot honour (options.ts) instead of dropping it. The facts come from OpenAI's API reference;
 * test/fixtures/transcription/model-abilities.json keeps them with their source and date, and a
 * test holds this table to it.
 */
import type { RoutingTable } from "../routing/table.js";

export const TRANSCRIPTION_MODEL_KINDS = ["whisper", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize"] as const;
export type TranscriptionModelKind = (typeof TRANSCRIPTION_MODEL_KINDS)[number];

export interface ModelAbilities {
  /** The `response_format` values the model answers. */
  responseFormats: readonly string[];
  /** Serves /audio/translations (into English). */
  translate: boolean;
  /** Takes `prompt`. */
  prompt: boolean;
  /** Takes `timestamp_granularities[]` (with verbose_json): segment and word times. */
  timestamps: boolean;
  /** Labels speakers (`diarized_json`) and takes `known_speaker_names[]` / `known_speaker_references[]`. */
  diarize: boolean;
  /** Takes `include[]=logprobs` (with json). */
  logprobs: boolean;
  /** Audio longer than this many seconds must come with `chunking_strategy`; undefined: never required. */
  chunkingStrategyOverSeconds: number | undefined;
  /** At most this many known speakers (names with reference clips) per request. */
  maxKnownSpeakers: number;
  /** Longest audio one request may hold, in seconds; undefined: only the 25 MB limit. */
  maxRequestSeconds: number | undefined;
}

export const MODEL_ABILITIES: Readonly<Record<TranscriptionModelKind, ModelAbilities>> = {
  whisper: {
    responseFormats: ["json", "text", "srt", "verbose_json", "vtt"],
    translate: true,
    prompt: true,
    timestamps: true,
    diarize: false,
    logprobs: false,
    chunkingStrategyOverSeconds: undefined,
    maxKnownSpeakers: 0,
    maxRequestSeconds: undefined,
  },
  "gpt-4o-transcribe": {
    responseFormats: ["json", "text"],
    translate: false,
    prompt: true,
    timestamps: false,
    diarize: false,
    logprobs: true,
    chunkingStrategyOverSeconds: undefined,
    maxKnownSpeakers: 0,
    maxRequestSeconds: 1500,
  },
  "gpt-4o-mini-transcribe": {
    responseFormats: ["json", "text"],
    translate: false,
    prompt: true,
    timestamps: false,
    diarize: false,
    logprobs: true,
    chunkingStrategyOverSeconds: undefined,
    maxKnownSpeakers: 0,
    maxRequestSeconds: 1500,
  },
  "gpt-4o-transcribe-diarize": {
    responseFormats: ["json", "text", "diarized_json"],
    translate: false,
    prompt: false,
    timestamps: false,
    diarize: true,
    logprobs: false,
    chunkingStrategyOverSeconds: 30,
    maxKnownSpeakers: 4,
    maxRequestSeconds: 1400,
  },
};

/** The kinds in the order a name is matched against them: a longer name before one it contains. */
const BY_NAME_LENGTH = [...TRANSCRIPTION_MODEL_KINDS].sort((a, b) => b.length - a.length);

/**
 * The kind of model a name (a deployment name or a routing table's model name) stands for, by the
 * model name it contains: `gpt-4o-transcribe-diarize`, `prod-gpt-4o-mini-transcribe`,
 * `gpt-4o-mini-transcribe-2025-12-15`. Anything else is Whisper, the only kind the app served
 * before, so existing deployments named `whisper`, `stt` or anything else keep working.
 */
export function modelKindOfName(name: string): TranscriptionModelKind {
  const lower = name.toLowerCase();
  return BY_NAME_LENGTH.find((kind) => kind !== "whisper" && lower.includes(kind)) ?? "whisper";
}

/**
 * The kind of a routing table model: its own name when that names a gpt-4o transcribe model, else
 * the deployments of its backends when one does (a model `meetings` on deployment
 * `gpt-4o-transcribe-diarize`), else Whisper.
 */
export function modelKindOf(model: string, deployments: readonly string[]): TranscriptionModelKind {
  const byName = modelKindOfName(model);
  if (byName !== "whisper") return byName;
  for (const deployment of deployments) {
    const kind = modelKindOfName(deployment);
    if (kind !== "whisper") return kind;
  }
  return "whisper";
}

/**
 * The longest chunk, in seconds, to send the model: its per-request limit less a margin (an MP3
 * chunk ends on a whole frame, a server may pad), or undefined when only bytes limit it.
 */
export function maxChunkSecondsFor(kind: TranscriptionModelKind): number | undefined {
  const limit = MODEL_ABILITIES[kind].maxRequestSeconds;
  return limit === undefined ? undefined : limit - 10;
}

/** True when the model answers text only (no segment times), so the app cuts short pieces to time its cues. */
export function needsTimedPieces(kind: TranscriptionModelKind): boolean {
  return !MODEL_ABILITIES[kind].timestamps && !MODEL_ABILITIES[kind].diarize;
}

/**
 * Longest piece sent to a model that gives no times, in seconds: each piece becomes one cue of the
 * subtitles, so its start and end are the only times the cue has. The issue asked for ~30 s; 30 s
 * is also the window the gpt-4o models transcribe as one block.
 */
export const TIMED_PIECE_SECONDS = 30;

/** The kind of each model of a routing table, from its name and its backends' deployments. */
export function tableModelKind(table: RoutingTable): (model: string) => TranscriptionModelKind {
  return (model) =>
    modelKindOf(
      model,
      (table.models.get(model) ?? []).map((backend) => backend.deployment),
    );
}

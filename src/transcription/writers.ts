/**
 * The output documents. Each is a pure function of the transcript and options, so a rerun on the
 * same audio writes byte-identical files (no timestamps of when it ran; those live in the status).
 */
import type { OutputFormat, TranscriptionOptions } from "./options.js";
import type { Transcript, TranscriptSegment } from "./stitch.js";

export interface TranscriptDocument {
  transcript: Transcript;
  options: TranscriptionOptions;
  usage: TranscriptionUsage;
  source: { container: string; name: string; format: string; bytes: number; chunks: number };
}

export interface TranscriptionUsage {
  /** Seconds of audio sent to Whisper (what Azure bills). */
  audioSeconds: number;
  requests: number;
  /** The routing table's model the chunks went to. */
  model: string;
  /** The backends (table names) that answered the chunks, in chunk order, each once. */
  backends: string[];
}

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  json: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  srt: "application/x-subrip; charset=utf-8",
  vtt: "text/vtt; charset=utf-8",
};

/** Renders one output format. */
export function renderOutput(format: OutputFormat, document: TranscriptDocument): string {
  switch (format) {
    case "json":
      return toJson(document);
    case "txt":
      return toText(document.transcript);
    case "srt":
      return toSrt(document.transcript.segments);
    case "vtt":
      return toVtt(document.transcript.segments);
  }
}

export function toJson({ transcript, options, usage, source }: TranscriptDocument): string {
  return (
    JSON.stringify(
      {
        text: transcript.text,
        language: transcript.language,
        duration: transcript.duration,
        segments: transcript.segments.map(({ id, start, end, text }) => ({ id, start, end, text })),
        options,
        usage,
        source,
      },
      null,
      2,
    ) + "\n"
  );
}

export function toText(transcript: Transcript): string {
  return transcript.text === "" ? "" : `${transcript.text}\n`;
}

/** SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, blank line between cues. */
export function toSrt(segments: readonly TranscriptSegment[]): string {
  return segments.map((s, i) => `${i + 1}\n${timestamp(s.start, ",")} --> ${timestamp(s.end, ",")}\n${cueText(s.text)}\n`).join("\n");
}

/** WebVTT: the `WEBVTT` header, then cues with `HH:MM:SS.mmm` times. */
export function toVtt(segments: readonly TranscriptSegment[]): string {
  const cues = segments.map((s) => `${timestamp(s.start, ".")} --> ${timestamp(s.end, ".")}\n${cueText(s.text)}\n`);
  return ["WEBVTT\n", ...cues].join("\n");
}

/** Cue text may not contain blank lines (they end a cue) or the `-->` arrow (it starts a timing line). */
function cueText(text: string): string {
  return text
    .replace(/-->/g, "->")
    .replace(/\n\s*\n/g, "\n")
    .trim();
}

export function timestamp(seconds: number, separator: "," | "."): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const secs = Math.floor((ms % 60_000) / 1000);
  return `${pad(hours)}:${pad(minutes)}:${pad(secs)}${separator}${pad(ms % 1000, 3)}`;
}

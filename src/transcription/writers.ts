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
        segments: transcript.segments.map(({ id, start, end, text, speaker }) => ({
          id,
          start,
          end,
          ...(speaker !== undefined ? { speaker } : {}),
          text,
        })),
        ...(speakersOf(transcript).length > 0 ? { speakers: speakersOf(transcript) } : {}),
        ...(options.words && transcript.words ? { words: transcript.words } : {}),
        options,
        usage,
        source,
      },
      null,
      2,
    ) + "\n"
  );
}

/** The speakers, in the order they first speak. */
export function speakersOf(transcript: Transcript): string[] {
  return [...new Set(transcript.segments.flatMap((segment) => (segment.speaker === undefined ? [] : [segment.speaker])))];
}

/** The text; with speakers, one line per turn: `Speaker 1: ...`. */
export function toText(transcript: Transcript): string {
  if (speakersOf(transcript).length > 0) {
    const turns: { speaker: string; text: string[] }[] = [];
    for (const segment of transcript.segments) {
      const speaker = segment.speaker ?? "";
      const last = turns.at(-1);
      if (last?.speaker === speaker) last.text.push(segment.text);
      else turns.push({ speaker, text: [segment.text] });
    }
    return turns.map((turn) => `${turn.speaker ? `${turn.speaker}: ` : ""}${turn.text.join(" ")}\n`).join("");
  }
  return transcript.text === "" ? "" : `${transcript.text}\n`;
}

/** SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, blank line between cues. */
export function toSrt(segments: readonly TranscriptSegment[]): string {
  return segments
    .map((s, i) => {
      const text = s.speaker === undefined ? cueText(s.text) : `${cueText(s.speaker)}: ${cueText(s.text)}`;
      return `${i + 1}\n${timestamp(s.start, ",")} --> ${timestamp(s.end, ",")}\n${text}\n`;
    })
    .join("\n");
}

/** WebVTT: the `WEBVTT` header, then cues with `HH:MM:SS.mmm` times. */
export function toVtt(segments: readonly TranscriptSegment[]): string {
  // A speaker is a WebVTT voice span (`<v Name>`), which players show and style per speaker.
  const cues = segments.map((s) => {
    const text = s.speaker === undefined ? vttCueText(s.text) : `<v ${voiceName(s.speaker)}>${vttCueText(s.text)}`;
    return `${timestamp(s.start, ".")} --> ${timestamp(s.end, ".")}\n${text}\n`;
  });
  return ["WEBVTT\n", ...cues].join("\n");
}

/** Cue text may not contain blank lines (they end a cue) or the `-->` arrow (it starts a timing line). */
function cueText(text: string): string {
  return text
    .replace(/-->/g, "->")
    .replace(/\n\s*\n/g, "\n")
    .trim();
}

/** WebVTT cue text is markup: a literal `&` or `<` (as in "R&D" or "x < y") must be an escape, or players drop or misread it. */
function vttCueText(text: string): string {
  return cueText(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A voice span's annotation ends at `>` and may not hold a line break or markup. */
function voiceName(speaker: string): string {
  return speaker.replace(/[<>&\r\n]/g, " ").trim();
}

export function timestamp(seconds: number, separator: "," | "."): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const secs = Math.floor((ms % 60_000) / 1000);
  return `${pad(hours)}:${pad(minutes)}:${pad(secs)}${separator}${pad(ms % 1000, 3)}`;
}

/**
 * Renders a stitched transcript as OpenAI answers an audio request, in the requested
 * `response_format`: json `{text}` (with `usage` for transcriptions), text/srt/vtt as text bodies
 * (srt and vtt by the blob pipeline's writers, so both outputs cut cues alike), verbose_json with
 * task, language, duration, text, segments (Whisper's fields, times in the whole recording) and
 * words when asked for; diarized_json (the diarizing model) with its speaker-labelled segments;
 * json with the gpt-4o models' logprobs when asked for.
 */
import type { Transcript } from "../transcription/stitch.js";
import type { TokenLogprob } from "../transcription/whisper.js";
import { toSrt, toText, toVtt } from "../transcription/writers.js";
import type { AudioRequest } from "./audio-request.js";

export interface AudioAnswer {
  contentType: string;
  body: string;
}

/**
 * Content types as Azure OpenAI and OpenAI answer: JSON for json/verbose_json, text/plain for text
 * and srt, text/vtt for vtt. The `openai` clients return any non-JSON answer as a string.
 */
const TEXT = "text/plain; charset=utf-8";
const VTT = "text/vtt; charset=utf-8";
const JSON_TYPE = "application/json";

/** The answer body for the request's response_format. `billedSeconds`: Azure's usage over every chunk. */
export function renderAudioAnswer(
  request: AudioRequest,
  transcript: Transcript,
  billedSeconds: number,
  logprobs?: readonly TokenLogprob[],
): AudioAnswer {
  // Translations carry no usage in OpenAI's answers (CreateTranslationResponse*); transcriptions do.
  const usage = request.task === "transcribe" ? { usage: { type: "duration", seconds: Math.ceil(billedSeconds) } } : {};
  switch (request.responseFormat) {
    case "json":
      return json({ text: transcript.text, ...(request.extras.logprobs && logprobs ? { logprobs } : {}), ...usage });
    case "diarized_json":
      return json({
        task: "transcribe",
        duration: transcript.duration,
        text: transcript.text,
        segments: transcript.segments.map(({ id, start, end, text, speaker }) => ({
          type: "transcript.text.segment",
          id: `seg_${id}`,
          start,
          end,
          text,
          speaker: speaker ?? "",
        })),
        ...usage,
      });
    case "text":
      return { contentType: TEXT, body: toText(transcript) };
    case "srt":
      return { contentType: TEXT, body: toSrt(transcript.segments) };
    case "vtt":
      return { contentType: VTT, body: toVtt(transcript.segments) };
    case "verbose_json":
      return json({
        task: request.task === "translate" ? "translate" : "transcribe",
        language: request.task === "translate" ? "english" : transcript.language,
        duration: transcript.duration,
        text: transcript.text,
        ...(request.words && transcript.words ? { words: transcript.words } : {}),
        ...(request.segments
          ? {
              segments: transcript.segments.map(({ id, seek, start, end, text, ...details }) => ({
                id,
                seek: seek ?? Math.floor(start / 30) * 3000,
                start,
                end,
                text,
                ...details,
              })),
            }
          : {}),
        ...usage,
      });
  }
}

function json(value: unknown): AudioAnswer {
  return { contentType: JSON_TYPE, body: JSON.stringify(value) };
}

/**
 * Text to one audio file: the text cut into parts a request takes (split-text.ts), the parts
 * rendered in parallel, at most SPEECH_PART_CONCURRENCY at a time per message so one long text
 * does not take a deployment's whole quota, each routed to a backend of the model and retried as
 * the retry policy says (src/queue-jobs/call-azure.ts), then joined in order (join-audio.ts).
 */
import { setMaxListeners } from "node:events";
import { AppError, BadInputError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { RetryPolicy } from "../openai/retry-policy.js";
import { callWithRetries, type JobRouting } from "../queue-jobs/call-azure.js";
import type { Backend } from "../routing/index.js";
import { mapLimited } from "../transcription/run-limited.js";
import { JOINABLE_FORMATS, joinAudio, notJoinable, type JoinedAudio } from "./join-audio.js";
import { MAX_CHARACTERS_PER_REQUEST, type SpeechFormat } from "./message-schema.js";
import { splitForSpeech } from "./split-text.js";

/** Parts of one message rendered at once: a 60,000-character text (15 parts) takes 3 rounds. */
export const SPEECH_PART_CONCURRENCY = 5;

export interface RenderSpeechDependencies extends JobRouting {
  retry: RetryPolicy;
  logger: Logger;
  /** Parts in flight at once (default SPEECH_PART_CONCURRENCY; the bench sets 1 to compare). */
  concurrency?: number;
}

export interface SpeechRequest {
  input: string;
  voice: string;
  format: SpeechFormat;
  instructions?: string | undefined;
  /** For log lines. */
  name: string;
}

export interface RenderedSpeech extends JoinedAudio {
  /** Each part's text, audio size and the backend that spoke it. */
  parts: { text: string; bytes: number; backend: Backend }[];
}

/** The parts the text is spoken in (whitespace-only pieces dropped). */
export function speechParts(input: string): string[] {
  return splitForSpeech(input, MAX_CHARACTERS_PER_REQUEST).filter((part) => part.trim() !== "");
}

/**
 * Renders and joins the text's parts.
 * @throws BadInputError (`format_not_joinable`) before any call when several parts are needed in a
 *   format that cannot be joined; AppError from Azure as classified (throttled past the budget,
 *   transient past the retries, upstream_permanent, configuration); `transient` when Azure's audio
 *   cannot be read.
 */
export async function renderSpeech(deps: RenderSpeechDependencies, request: SpeechRequest, signal?: AbortSignal): Promise<RenderedSpeech> {
  const texts = speechParts(request.input);
  if (texts.length > 1 && !JOINABLE_FORMATS.includes(request.format)) throw notJoinable(request.format, texts.length);
  const spoken = await mapLimited(
    texts,
    deps.concurrency ?? SPEECH_PART_CONCURRENCY,
    (text, index, partSignal) => {
      // Every part's requests listen on the one signal that stops them all: 15 parts are not a leak.
      setMaxListeners(Math.max(10, texts.length * 4), partSignal);
      return callWithRetries(
        {
          operation: "audio.speech",
          where: `part ${index + 1}/${texts.length} of speech ${request.name}`,
          signal: partSignal,
          send: async (target, callSignal) => {
            const { data, response } = await target.client.audio.speech
              .create(
                {
                  model: target.backend.deployment,
                  input: text.trim(),
                  voice: request.voice,
                  response_format: request.format,
                  ...(request.instructions ? { instructions: request.instructions } : {}),
                },
                { signal: callSignal },
              )
              .withResponse();
            return { value: Buffer.from(await data.arrayBuffer()), response, usage: { characters: text.trim().length } };
          },
        },
        deps,
        deps.retry,
        deps.logger,
      );
    },
    signal,
  );
  const audios = spoken.map((part) => part.value);
  let joined: JoinedAudio;
  try {
    joined = joinAudio(request.format, audios);
  } catch (error) {
    // Audio Azure sent that does not parse is Azure's (or the wire's) failure, not the message's.
    if (error instanceof BadInputError && error.code !== "format_not_joinable")
      throw new AppError("transient", `Azure OpenAI answered speech that is not valid ${request.format}: ${error.message}`, {
        code: "invalid_upstream_audio",
        cause: error,
      });
    throw error;
  }
  return { ...joined, parts: texts.map((text, index) => ({ text, bytes: audios[index]!.length, backend: spoken[index]!.backend })) };
}

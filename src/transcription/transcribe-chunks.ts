/**
 * The one path from planned chunks to their transcripts, shared by the blob pipeline
 * (transcribe-blob.ts) and the HTTP endpoints (src/functions/audio-transcriptions.ts): chunks go
 * to Whisper in parallel with at most `maxConcurrency` in flight (run-limited.ts), each through
 * whisper.ts (the router picks each chunk's backend, so one file's chunks spread over the model's
 * backends) and its retry policy, with the end of the previous chunk's text in the next one's
 * prompt when it has finished in time. What differs per caller comes in as hooks: the blob
 * pipeline resumes from kept chunks, keeps each new one and reports progress; HTTP does none of that.
 */
import type { Logger } from "../logging.js";
import type { AudioPlan } from "./chunk-plan.js";
import type { TranscriptionOptions } from "./options.js";
import { mapLimited } from "./run-limited.js";
import { knownSpeakersFrom, labelSpeakers, withoutSpeakers } from "./speakers.js";
import { MODEL_ABILITIES, type TranscriptionModelKind } from "./transcription-models.js";
import { transcribeChunk, type ChunkResult, type KnownSpeakers, type ModelExtras, type WhisperDeps } from "./whisper.js";

/** How much of the previous chunk's text is offered as context to the next (Whisper reads ~224 tokens). */
const CONTINUITY_CHARS = 400;

export interface ChunkRunDeps extends WhisperDeps {
  maxConcurrency: number;
  logger: Logger;
}

export interface ChunkRun {
  plan: AudioPlan;
  options: TranscriptionOptions;
  /** Names the audio in log lines: `audio/meeting.wav`, `upload meeting.wav`. */
  sourceName: string;
  /** Stops every chunk in flight (and the ones not started) when it aborts. */
  signal: AbortSignal;
  /** Ask Whisper for word timestamps too (transcriptions only). */
  words?: boolean;
  /** Chunks already done by an earlier run, by index; they are not sent again. */
  resumed?: ReadonlyMap<number, ChunkResult>;
  /** Called with each new chunk before it counts as done (the blob pipeline keeps it here). */
  keep?: (index: number, result: ChunkResult) => Promise<void>;
  /** Called after each new chunk is done, with how many are done in all. */
  onProgress?: (chunksDone: number, chunksTotal: number) => Promise<void>;
  /** Failures for which the chunks in flight run to their end instead of being aborted (see mapLimited). */
  finishInFlight?: (error: unknown) => boolean;
  /** The kind of model behind the route (transcription-models.ts); default whisper. */
  kind?: TranscriptionModelKind;
  /** The whole recording: the diarizing model's reference clips are cut from it (speakers.ts). */
  audio?: Uint8Array;
  /** HTTP: the caller's fields for the gpt-4o models, sent with every chunk. */
  extras?: ModelExtras;
  /** HTTP: the caller's known speakers, sent with every chunk instead of clips cut from the first. */
  knownSpeakers?: KnownSpeakers;
}

/**
 * Transcribes every chunk of the plan; the results are in chunk order.
 * @throws the first chunk's failure (AppError from whisper.ts, or the signal's reason), once every
 *   chunk in flight has settled.
 */
export async function transcribeChunks(deps: ChunkRunDeps, run: ChunkRun): Promise<ChunkResult[]> {
  const { plan, options } = run;
  const kind = run.kind ?? "whisper";
  const abilities = MODEL_ABILITIES[kind];
  const resumed = run.resumed ?? new Map<number, ChunkResult>();
  const done: Array<ChunkResult | undefined> = [];
  for (const [index, result] of resumed) done[index] = result;
  const total = plan.chunks.length;
  let chunksDone = resumed.size;
  const transcribeOne = async (index: number, signal: AbortSignal, knownSpeakers: KnownSpeakers | undefined): Promise<ChunkResult> => {
    const chunk = plan.chunks[index]!;
    const earlier = resumed.get(index);
    if (earlier) return earlier;
    // Continuity: when the previous chunk has already finished, its last words go into this
    // chunk's prompt, as Whisper's guide suggests for split audio. Chunks run in parallel, so
    // this helps only when concurrency is below the chunk count; the text never depends on it.
    // The diarizing model takes no prompt at all.
    const prompt = abilities.prompt ? joinPrompt(options.prompt, done[index - 1]?.text) : undefined;
    const result = await transcribeChunk(deps, {
      chunk,
      chunkCount: total,
      format: plan.format,
      options,
      prompt,
      sourceName: run.sourceName,
      signal,
      kind,
      ...(run.words ? { words: true } : {}),
      ...(knownSpeakers ? { knownSpeakers } : {}),
      ...(run.extras ? { extras: run.extras } : {}),
    });
    // Kept before it counts as done, so a crash from here on never pays for this chunk again.
    await run.keep?.(index, result);
    done[index] = result;
    chunksDone++;
    deps.logger.info(
      `Chunk ${index + 1}/${total} of ${run.sourceName}: ${chunk.startInSeconds.toFixed(1)}-${(chunk.endInSeconds ?? chunk.startInSeconds + result.duration).toFixed(1)} s, ` +
        `${chunk.byteLength} bytes, ${result.segments.length} segments, ${Math.round(result.latencyInMs)} ms`,
    );
    await run.onProgress?.(chunksDone, total);
    return result;
  };
  const indexes = plan.chunks.map((_, index) => index);
  if (!abilities.diarize)
    return mapLimited(
      indexes,
      deps.maxConcurrency,
      (index, _, signal) => transcribeOne(index, signal, undefined),
      run.signal,
      run.finishInFlight,
    );
  if (run.knownSpeakers) {
    // The caller's own known speakers go with every chunk, so every chunk labels them alike.
    const given = run.knownSpeakers;
    const results = await mapLimited(
      indexes,
      deps.maxConcurrency,
      (index, _, signal) => transcribeOne(index, signal, given),
      run.signal,
      run.finishInFlight,
    );
    const known = new Map(given.names.map((name) => [name, name]));
    return options.speakers ? labelSpeakers(results, options.speakerNames, known) : withoutSpeakers(results);
  }

  // Diarizing: the first chunk alone, then the others in parallel with its speakers as known
  // speakers, so every chunk labels them alike (speakers.ts).
  const [first] = await mapLimited([0], 1, (index, _, signal) => transcribeOne(index, signal, undefined), run.signal, run.finishInFlight);
  const { known, finalOf } =
    total > 1 && options.speakers && run.audio
      ? await knownSpeakersFrom(first!, run.audio, plan.format, options.speakerNames, abilities.maxKnownSpeakers)
      : { known: { names: [], references: [] }, finalOf: new Map<string, string>() };
  if (total > 1 && known.names.length > 0)
    deps.logger.info(`Known speakers for the later chunks of ${run.sourceName}: ${known.names.length} (reference clips from chunk 1)`);
  const rest = await mapLimited(
    indexes.slice(1),
    deps.maxConcurrency,
    (index, _, signal) => transcribeOne(index, signal, known),
    run.signal,
    run.finishInFlight,
  );
  const results = [first!, ...rest];
  return options.speakers ? labelSpeakers(results, options.speakerNames, finalOf) : withoutSpeakers(results);
}

/** The prompt for a chunk: the user's vocabulary first, then the end of the previous chunk's text. */
export function joinPrompt(userPrompt: string | undefined, previousText: string | undefined): string | undefined {
  if (!previousText) return userPrompt;
  const tail =
    previousText.length > CONTINUITY_CHARS
      ? previousText.slice(previousText.indexOf(" ", previousText.length - CONTINUITY_CHARS) + 1)
      : previousText;
  // Whisper weighs the end of the prompt most: the user's vocabulary first, the context last.
  return userPrompt ? `${userPrompt} ${tail}` : tail;
}

/** Seconds Azure billed for the chunks, to the millisecond. */
export function billedSeconds(results: readonly ChunkResult[]): number {
  return Math.round(results.reduce((sum, r) => sum + r.billedSeconds, 0) * 1000) / 1000;
}

/** The backends that answered the chunks, in chunk order, each named once (chunks kept from before routing name none). */
export function chunkBackends(results: readonly ChunkResult[]): string[] {
  return [...new Set(results.flatMap((result) => (result.backend ? [result.backend] : [])))];
}

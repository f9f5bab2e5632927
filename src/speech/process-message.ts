/**
 * One speech queue message, start to finish: check it, claim its id (src/queue-jobs/job-claim.ts),
 * skip it if its audio is already there, else render the text and write `{id}.{format}` and then
 * `{id}.json`. Failures are decided as for every queue pipeline (src/queue-jobs/run-job.ts).
 */
import { createHash, randomUUID } from "node:crypto";
import type { QueueClient } from "@azure/storage-queue";
import { AppError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { QueueDelivery } from "../queue-jobs/delivery.js";
import { withJobClaim } from "../queue-jobs/job-claim.js";
import { runQueueJob, type JobOutcome, type QueueJobPipeline } from "../queue-jobs/run-job.js";
import { parseSpeechMessage, type SpeechJob } from "./message-schema.js";
import { renderSpeech, type RenderSpeechDependencies } from "./render-speech.js";
import { speechAudioName, type SpeechRecord, type SpeechStore } from "./speech-store.js";

export interface SpeechMessageDependencies {
  /**
   * The router and retry policy; `defaultModel` is the model of messages naming none, undefined
   * when speech is turned off (AZURE_OPENAI_SPEECH_DEPLOYMENT set empty).
   */
  render: Omit<RenderSpeechDependencies, "logger" | "route"> & { defaultModel: string | undefined };
  store: SpeechStore;
  /** The speech queue itself, to hand throttled work back. */
  queue: QueueClient;
  logger: Logger;
}

export type SpeechDone = { status: "spoken"; id: string; parts: number; duration: number | null; reused: boolean };

/**
 * Processes one delivery of a speech message.
 * @throws AppError when the host should retry the message (a `retrying` record is written first).
 */
export async function processSpeechMessage(delivery: QueueDelivery, deps: SpeechMessageDependencies): Promise<JobOutcome<SpeechDone>> {
  const pipeline: QueueJobPipeline<SpeechJob, SpeechDone> = {
    name: "speech",
    parse: parseSpeechMessage,
    run: (job, { createdAt }) => speak(job, createdAt, delivery, deps),
    handbackCopy: (job, enqueuedAt) => ({
      id: job.id,
      input: job.input,
      voice: job.voice,
      ...(job.format !== undefined ? { format: job.format } : {}),
      ...(job.instructions !== undefined ? { instructions: job.instructions } : {}),
      ...(job.model !== undefined ? { model: job.model } : {}),
      enqueuedAt,
    }),
    hasOutput: (id) => deps.store.hasOutput(id),
    alreadyDone: (id) => ({ status: "spoken", id, parts: 0, duration: null, reused: true }),
    recordFields: (job) => ({ deployment: undefined, model: job?.model ?? deps.render.defaultModel, metadata: undefined }),
  };
  return runQueueJob(pipeline, delivery, deps);
}

async function speak(job: SpeechJob, createdAt: string, delivery: QueueDelivery, deps: SpeechMessageDependencies): Promise<SpeechDone> {
  const defaultModel = deps.render.defaultModel;
  // Turned off, the message is kept (retried, then poison) even when it names a model: replayed once speech is back.
  if (defaultModel === undefined) {
    throw new AppError(
      "configuration",
      "Speech is turned off: AZURE_OPENAI_SPEECH_DEPLOYMENT is set empty. Set it to a text-to-speech deployment (such as gpt-4o-mini-tts), then replay the message from the poison queue",
      { code: "speech_turned_off" },
    );
  }
  // A model that does not serve speech is the message's mistake: rejected (BadInputError `model_not_found`).
  const route = deps.render.router.route("speech", job.model ?? defaultModel);
  const format = job.format ?? "mp3";
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([job.input, job.voice, format, job.instructions ?? null, route.model, createdAt]))
    .digest("hex");
  await deps.store.ensureContainer();
  return withJobClaim(deps.store.container, job.id, async (claim) => {
    const done = await deps.store.finished(job.id, fingerprint);
    if (done) {
      deps.logger.info(`Message ${delivery.messageId}: ${done.audio} is already done; Azure OpenAI not called again`);
      return { status: "spoken", id: job.id, parts: done.parts.length, duration: done.duration, reused: true };
    }
    // Earlier, different work under this id: its record goes first, so none describes the new audio.
    await deps.store.removeRecord(job.id);
    const rendered = await renderSpeech(
      { ...deps.render, route, logger: deps.logger },
      { input: job.input, voice: job.voice, format, instructions: job.instructions, name: job.id },
    );
    const record: SpeechRecord = {
      id: job.id,
      audio: speechAudioName(job.id, format),
      voice: job.voice,
      format,
      ...(job.instructions !== undefined ? { instructions: job.instructions } : {}),
      duration: roundSeconds(rendered.durationInSeconds),
      characters: job.input.length,
      bytes: rendered.audio.length,
      parts: rendered.parts.map((part, index) => ({
        index,
        characters: part.text.length,
        duration: roundSeconds(rendered.partDurations[index] ?? null),
        bytes: part.bytes,
        backend: part.backend.name,
      })),
      model: route.model,
      deployment: rendered.parts[0]!.backend.deployment,
      createdAt,
      fingerprint,
      render: randomUUID(),
    };
    await claim.confirm();
    await deps.store.writeAudio(record, rendered.audio);
    await claim.confirm();
    await deps.store.writeRecord(record);
    deps.logger.info(
      `Spoke message ${delivery.messageId} as ${record.audio}: ${record.parts.length} part(s), ${record.characters} characters, ${record.duration ?? "?"} s`,
    );
    return { status: "spoken", id: job.id, parts: record.parts.length, duration: record.duration, reused: false };
  });
}

function roundSeconds(seconds: number | null): number | null {
  return seconds === null ? null : Math.round(seconds * 1000) / 1000;
}

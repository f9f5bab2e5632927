/**
 * One images queue message, start to finish: check it, claim its id (src/queue-jobs/job-claim.ts),
 * skip it if its images are already there, else generate them and write `{id}/{k}.png` (k = 1..n)
 * and then `{id}.json`. Failures are decided as for every queue pipeline (src/queue-jobs/run-job.ts).
 */
import { createHash, randomUUID } from "node:crypto";
import type { QueueClient } from "@azure/storage-queue";
import { AppError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { QueueDelivery } from "../queue-jobs/delivery.js";
import { withJobClaim } from "../queue-jobs/job-claim.js";
import { runQueueJob, type JobOutcome, type QueueJobPipeline } from "../queue-jobs/run-job.js";
import { generateImages, type GenerateImagesDependencies } from "./generate-images.js";
import { imageName, type ImagesRecord, type ImagesStore } from "./images-store.js";
import { parseImagesMessage, type ImagesJob } from "./message-schema.js";

export interface ImagesMessageDependencies {
  /**
   * The router and retry policy; `defaultModel` is the model of messages naming none, undefined
   * when images are turned off (AZURE_OPENAI_IMAGES_DEPLOYMENT set empty).
   */
  generate: Omit<GenerateImagesDependencies, "logger" | "route"> & { defaultModel: string | undefined };
  store: ImagesStore;
  /** The images queue itself, to hand throttled work back. */
  queue: QueueClient;
  logger: Logger;
}

export type ImagesDone = { status: "generated"; id: string; images: number; reused: boolean };

/**
 * Processes one delivery of an images message.
 * @throws AppError when the host should retry the message (a `retrying` record is written first).
 */
export async function processImagesMessage(delivery: QueueDelivery, deps: ImagesMessageDependencies): Promise<JobOutcome<ImagesDone>> {
  const pipeline: QueueJobPipeline<ImagesJob, ImagesDone> = {
    name: "images",
    parse: parseImagesMessage,
    run: (job, { createdAt }) => imagine(job, createdAt, delivery, deps),
    handbackCopy: (job, enqueuedAt) => ({
      id: job.id,
      prompt: job.prompt,
      ...(job.size !== undefined ? { size: job.size } : {}),
      ...(job.quality !== undefined ? { quality: job.quality } : {}),
      ...(job.n !== undefined ? { n: job.n } : {}),
      ...(job.model !== undefined ? { model: job.model } : {}),
      enqueuedAt,
    }),
    hasOutput: (id) => deps.store.hasOutput(id),
    alreadyDone: (id) => ({ status: "generated", id, images: 0, reused: true }),
    recordFields: (job) => ({ deployment: undefined, model: job?.model ?? deps.generate.defaultModel, metadata: undefined }),
  };
  return runQueueJob(pipeline, delivery, deps);
}

async function imagine(job: ImagesJob, createdAt: string, delivery: QueueDelivery, deps: ImagesMessageDependencies): Promise<ImagesDone> {
  const defaultModel = deps.generate.defaultModel;
  // Turned off, the message is kept (retried, then poison) even when it names a model: replayed once images are back.
  if (defaultModel === undefined) {
    throw new AppError(
      "configuration",
      "Image generation is turned off: AZURE_OPENAI_IMAGES_DEPLOYMENT is set empty. Set it to an image deployment (such as gpt-image-1), then replay the message from the poison queue",
      { code: "images_turned_off" },
    );
  }
  // A model that does not generate images is the message's mistake: rejected (BadInputError `model_not_found`).
  const route = deps.generate.router.route("images", job.model ?? defaultModel);
  const n = job.n ?? 1;
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([job.prompt, job.size ?? null, job.quality ?? null, n, route.model, createdAt]))
    .digest("hex");
  await deps.store.ensureContainer();
  return withJobClaim(deps.store.container, job.id, async (claim) => {
    const done = await deps.store.finished(job.id, fingerprint);
    if (done) {
      deps.logger.info(`Message ${delivery.messageId}: ${job.id}.json is already done; Azure OpenAI not called again`);
      return { status: "generated", id: job.id, images: done.images.length, reused: true };
    }
    await deps.store.removeEarlier(job.id, n);
    const generated = await generateImages(
      { ...deps.generate, route, logger: deps.logger },
      { prompt: job.prompt, size: job.size, quality: job.quality, n, name: job.id },
    );
    const render = randomUUID();
    const record: ImagesRecord = {
      id: job.id,
      images: generated.images.map((image, i) => ({
        index: i + 1,
        name: imageName(job.id, i + 1),
        bytes: image.bytes.length,
        ...(image.revisedPrompt !== undefined ? { revisedPrompt: image.revisedPrompt } : {}),
        ...(image.contentFilterResults !== undefined ? { contentFilterResults: image.contentFilterResults } : {}),
        ...(image.promptFilterResults !== undefined ? { promptFilterResults: image.promptFilterResults } : {}),
      })),
      request: { prompt: job.prompt, ...(job.size ? { size: job.size } : {}), ...(job.quality ? { quality: job.quality } : {}), n },
      ...(generated.size ? { size: generated.size } : {}),
      ...(generated.quality ? { quality: generated.quality } : {}),
      ...(generated.usage !== undefined ? { usage: generated.usage } : {}),
      model: route.model,
      deployment: generated.backend.deployment,
      backend: generated.backend.name,
      createdAt,
      fingerprint,
      render,
    };
    await claim.confirm();
    await Promise.all(generated.images.map((image, i) => deps.store.writeImage(record.images[i]!.name, image.bytes, render)));
    await claim.confirm();
    await deps.store.writeRecord(record);
    deps.logger.info(`Generated message ${delivery.messageId} as ${job.id}/1..${n}.png`);
    return { status: "generated", id: job.id, images: n, reused: false };
  });
}

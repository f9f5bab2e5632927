/** The images queue pipeline, loaded by its queue trigger on first message (src/functions/imagine-queue-message.ts). */
export { processImagesMessage, type ImagesMessageDependencies, type ImagesDone } from "./process-message.js";
export { imagesQueueDependencies } from "./runtime.js";
export { generateImages, type GenerateImagesDependencies } from "./generate-images.js";
export { parseImagesMessage, IMAGE_SIZES, IMAGE_QUALITIES, type ImagesJob } from "./message-schema.js";
export { type ImagesRecord } from "./images-store.js";

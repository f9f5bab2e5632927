/**
 * Which formats the container splitter (plan.ts) takes. Kept apart from the splitter so that
 * checking a format does not load mediabunny: chunk-plan.ts imports the splitter only when a file
 * of these containers is over the limit, which keeps it out of a cold start.
 */
import type { AudioFormat } from "../audio-format.js";

/** The containers split by packets; WAV and MP3 have their own byte-level splitters. */
export const CONTAINER_FORMATS = ["flac", "ogg", "webm", "m4a", "mp4"] as const satisfies readonly AudioFormat[];
export type ContainerFormat = (typeof CONTAINER_FORMATS)[number];

export function isContainerFormat(format: AudioFormat): format is ContainerFormat {
  return (CONTAINER_FORMATS as readonly string[]).includes(format);
}

/**
 * How long one image request may take. Azure sends no response headers until the images are made,
 * and a GPT image model at high quality, several images at once, can take minutes: the client's
 * timeout (AZURE_OPENAI_TIMEOUT_MS, 60 s by default, for the first byte of an answer) would give
 * up on work Azure still does, and a queue would then ask again, paying again. So image calls wait
 * at least this long (or AZURE_OPENAI_TIMEOUT_MS, if longer).
 */
export const MIN_IMAGE_TIMEOUT_IN_MS = 300_000;

/** The timeout of one image request under this client timeout. */
export function imageTimeoutInMs(clientTimeoutInMs: number): number {
  return Math.max(clientTimeoutInMs, MIN_IMAGE_TIMEOUT_IN_MS);
}

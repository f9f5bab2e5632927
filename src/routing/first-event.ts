/**
 * Where a routed stream commits to its backend: at its first event, not at its response headers.
 * Azure can accept a streamed request (200) and then fail, or fall silent, before sending
 * anything; until the first event has been read nothing has reached the caller, so that failure
 * can still move the request to another backend and the caller sees one clean stream.
 */
import { AppError } from "../errors.js";

/** Code of a stream whose first event did not come within its deadline. */
export const FIRST_EVENT_TIMEOUT = "first_event_timeout";

/**
 * Resolves once `opening` has produced its first event (or ended without one), so a failure before
 * it rejects this promise (and the router can fail over) instead of breaking the caller's stream.
 * The returned iterable yields that event, then the rest, and passes an early stop on upstream.
 * @param deadlineInMs how long the first event may take once the stream is open (the client's
 *   timeout covers only the headers, the stream's idle timeout only the gaps after the first event).
 * @throws what `opening` or the first read throws; AppError `first_event_timeout` (transient) after the deadline.
 */
export async function openedAtFirstEvent<T>(opening: Promise<AsyncIterable<T>>, deadlineInMs: number): Promise<AsyncIterable<T>> {
  const iterator = (await opening)[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Releases the upstream connection; the read still pending then ends.
      void iterator.return?.()?.catch(() => undefined);
      reject(
        new AppError("transient", `Azure OpenAI accepted the stream but sent nothing for ${deadlineInMs} ms`, {
          code: FIRST_EVENT_TIMEOUT,
        }),
      );
    }, deadlineInMs);
  });
  let first: IteratorResult<T>;
  try {
    first = await Promise.race([iterator.next(), deadline]);
  } finally {
    clearTimeout(timer);
  }
  let firstTaken = false;
  // A plain iterator, not another async generator: this sits on every chunk's path.
  const rest: AsyncIterator<T> = {
    next: () => {
      if (firstTaken) return iterator.next();
      firstTaken = true;
      return Promise.resolve(first);
    },
    return: (value?: unknown) => (iterator.return ? iterator.return(value) : Promise.resolve({ done: true, value: undefined as T })),
  };
  return { [Symbol.asyncIterator]: () => rest };
}

/**
 * Where a routed stream commits to its backend: at its first event, not at its response headers.
 * Azure can accept a streamed request (200) and then fail before sending anything; until the first
 * event has been read nothing has reached the caller, so that failure can still move the request
 * to another backend and the caller sees one clean stream.
 */

/**
 * Resolves once `opening` has produced its first event (or ended without one), so a failure before
 * it rejects this promise (and the router can fail over) instead of breaking the caller's stream.
 * The returned iterable yields that event, then the rest, and passes an early stop on upstream.
 * @throws what `opening` or the first read throws.
 */
export async function openedAtFirstEvent<T>(opening: Promise<AsyncIterable<T>>): Promise<AsyncIterable<T>> {
  const iterator = (await opening)[Symbol.asyncIterator]();
  const first = await iterator.next();
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

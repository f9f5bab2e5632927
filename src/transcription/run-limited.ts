/**
 * Runs async work over a list with at most `limit` tasks in flight. The first failure aborts the
 * rest (through the signal each task gets) and is rethrown once every task has settled, so no
 * request is left running behind the caller's back. An aborted `outer` signal stops it the same way.
 * A failure for which `finishInFlight` says true only stops new tasks from starting: the ones in
 * flight run to their end (their work is kept), and then the failure is rethrown.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  outer?: AbortSignal,
  finishInFlight?: (error: unknown) => boolean,
): Promise<R[]> {
  if (outer?.aborted) throw outer.reason;
  const controller = new AbortController();
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const onOuterAbort = () => {
    failure ??= { error: outer!.reason };
    controller.abort(outer!.reason);
  };
  outer?.addEventListener("abort", onOuterAbort, { once: true });
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]!, index, controller.signal);
      } catch (error) {
        failure ??= { error };
        if (!finishInFlight?.(error)) controller.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  } finally {
    outer?.removeEventListener("abort", onOuterAbort);
  }
  if (failure) throw failure.error;
  return results;
}

/** Waits `ms`, or rejects early with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

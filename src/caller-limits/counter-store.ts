/**
 * Where callers' counts live: in this process (the default) or in a blob that every instance
 * shares (src/caller-limits/blob-counter-store.ts). Either way a change is a read-modify-write that
 * no other change can interleave with, so two requests of one caller reserving at once never both
 * pass a limit one of them should have hit.
 */
import type { WindowCounts } from "./window-counts.js";

/** What a change decides: the counts to store (undefined: store nothing) and what to return. */
export interface CountsChange<T> {
  counts: WindowCounts | undefined;
  result: T;
}

export interface CounterStore {
  /**
   * Applies `change` to the caller's counts for the UTC day of `nowInMs` atomically: if another
   * change lands in between, `change` runs again on the newer counts.
   * @throws storage errors (the blob store) as they come.
   */
  update<T>(caller: string, nowInMs: number, change: (stored: WindowCounts | undefined) => CountsChange<T>): Promise<T>;
}

/** Above this many callers, those with nothing counted in the current windows are forgotten. */
const MEMORY_PRUNE_AT = 10_000;

/**
 * Counts in this process only: each instance limits its callers on its own, so N instances let a
 * caller spend up to N times its limits (docs/caller-limits.md). No I/O: a change is synchronous,
 * so nothing can interleave with it on Node's one thread.
 */
export class MemoryCounterStore implements CounterStore {
  private readonly counts = new Map<string, WindowCounts>();

  update<T>(caller: string, nowInMs: number, change: (stored: WindowCounts | undefined) => CountsChange<T>): Promise<T> {
    const { counts, result } = change(this.counts.get(caller));
    if (counts) {
      this.counts.set(caller, counts);
      // Caller names in anonymous mode come from a header: many of them must not grow memory for ever.
      if (this.counts.size > MEMORY_PRUNE_AT) this.prune(counts);
    }
    return Promise.resolve(result);
  }

  private prune(current: WindowCounts): void {
    for (const [caller, counts] of this.counts) {
      if (counts.day !== current.day || (counts.dayTokens === 0 && counts.minute !== current.minute)) this.counts.delete(caller);
    }
  }
}

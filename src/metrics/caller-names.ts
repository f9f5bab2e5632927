/**
 * Bounds how many caller names one process tracks in its metrics and usage totals. A caller's name
 * can come from the caller (the `x-caller` header when keys are off, an App Service principal), so
 * without a bound every new name would add a usage-totals entry for the life of the process and a
 * set of time series to every aoai.* metric: memory and Azure Monitor's series limit spent by
 * whoever sends the most names. The first MAX_TRACKED_CALLERS names are kept as they are; later
 * ones count together under OTHER_CALLERS, which no caller can send (src/http/caller.ts keeps
 * names to letters, digits and `._@-`).
 */
export const MAX_TRACKED_CALLERS = 1_000;
export const OTHER_CALLERS = "(other callers)";

export class CallerNames {
  private readonly tracked = new Set<string>();

  /** The name to record a caller under. */
  bounded(caller: string): string {
    if (this.tracked.has(caller)) return caller;
    if (this.tracked.size >= MAX_TRACKED_CALLERS) return OTHER_CALLERS;
    this.tracked.add(caller);
    return caller;
  }

  clear(): void {
    this.tracked.clear();
  }
}

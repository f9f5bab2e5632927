/**
 * The process's per-caller limiter, built on first use from the settings: none when
 * CALLER_TOKEN_LIMITS limits nobody (then handlers spend nothing on estimates), counts in memory by
 * default, in a shared blob with CALLER_LIMITS_STORE=storage. The blob store's SDK loads only then.
 */
import type { Config } from "../config.js";
import { CallerLimiter } from "./caller-limiter.js";
import { MemoryCounterStore, type CounterStore } from "./counter-store.js";
import { limitsNobody } from "./limits-table.js";

let shared: { config: Config; limiter: Promise<CallerLimiter | undefined> } | undefined;

/**
 * The limiter for these settings, or undefined when no caller is limited.
 * @throws (the promise) what building the shared store's clients throws; the next call tries again.
 */
export function getCallerLimiter(config: Config): Promise<CallerLimiter | undefined> {
  if (shared?.config !== config) {
    const entry = { config, limiter: createLimiter(config) };
    entry.limiter.catch(() => {
      if (shared === entry) shared = undefined;
    });
    shared = entry;
  }
  return shared.limiter;
}

async function createLimiter(config: Config): Promise<CallerLimiter | undefined> {
  const { table, store } = config.callerLimits;
  if (limitsNobody(table)) return undefined;
  return new CallerLimiter(table, store === "storage" ? await sharedStore(config) : new MemoryCounterStore());
}

async function sharedStore(config: Config): Promise<CounterStore> {
  const [{ getStorageClients }, { BlobCounterStore, CALLER_LIMITS_CONTAINER }] = await Promise.all([
    import("../storage/clients.js"),
    import("./blob-counter-store.js"),
  ]);
  const { blobService } = await getStorageClients(config.storage, config.openai.managedIdentityAvailable);
  return new BlobCounterStore(blobService.getContainerClient(CALLER_LIMITS_CONTAINER));
}

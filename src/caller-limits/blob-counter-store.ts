/**
 * Counts shared by every instance, in one small JSON blob per caller per UTC day
 * (`caller-limits/{caller}/{yyyy-mm-dd}.json`, holding the day's and the current minute's tokens),
 * changed with conditional writes: a write carries the ETag of what it read (If-Match), or
 * If-None-Match: * for a day's first write, so of two instances writing at once one wins and the
 * other reads the winner's counts and decides again. One blob for both windows makes a reservation
 * one write, atomic over both.
 *
 * The last counts and ETag this process wrote are kept, so a caller's next change usually writes
 * at once without reading first (one storage transaction); when another instance wrote in between,
 * the write fails (412), and the blob is read and the change made again. A refusal decided on kept
 * counts is checked against a fresh read first: another instance may have given tokens back.
 *
 * Within one process, one write per blob is under way at a time, and the changes that arrive
 * meanwhile go into the next write together (each decided on the counts the one before left):
 * concurrent requests of one caller would otherwise all write against the same ETag, all but one
 * fail and go round again; batched, a busy caller costs a write per round trip, not per request.
 * Between instances, a write that lost waits a short random time before it reads again, so two
 * instances that collided do not collide again in step.
 *
 * Azure Table storage would do the same with an entity per caller and day; blobs were chosen
 * because the app already depends on the blob SDK and Azurite's blob service (no new package,
 * nothing new to provision).
 */
import type { BlockBlobClient, ContainerClient } from "@azure/storage-blob";
import { AppError } from "../errors.js";
import { isConditionFailed, readJsonBlobWithEtag } from "../transcription/blob-io.js";
import { sleep } from "../transcription/run-limited.js";
import type { CounterStore, CountsChange } from "./counter-store.js";
import { DAY_IN_MS, dayOf, type WindowCounts } from "./window-counts.js";

export const CALLER_LIMITS_CONTAINER = "caller-limits";

/** Rounds of read, decide and conditional write before giving up: each lost round means another instance's write landed. */
const MAX_ROUNDS = 16;

interface Kept {
  counts: WindowCounts | undefined;
  etag: string | undefined;
}

interface Pending {
  change: (stored: WindowCounts | undefined) => CountsChange<unknown>;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

export class BlobCounterStore implements CounterStore {
  private readonly kept = new Map<string, Kept>();
  /** Changes waiting for each blob while a write to it is under way. */
  private readonly waiting = new Map<string, Pending[]>();
  private ready: Promise<unknown> | undefined;

  constructor(private readonly container: ContainerClient) {}

  update<T>(caller: string, nowInMs: number, change: (stored: WindowCounts | undefined) => CountsChange<T>): Promise<T> {
    const name = blobName(caller, nowInMs);
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { change, resolve: resolve as (result: unknown) => void, reject };
      const queue = this.waiting.get(name);
      if (queue) {
        queue.push(pending);
        return;
      }
      this.waiting.set(name, [pending]);
      void this.drain(caller, name);
    });
  }

  /** Writes the blob's waiting changes, a batch at a time, until none is left. */
  private async drain(caller: string, name: string): Promise<void> {
    for (;;) {
      const batch = this.waiting.get(name) ?? [];
      if (batch.length === 0) {
        this.waiting.delete(name);
        return;
      }
      // Changes queued from here on wait for the next batch.
      this.waiting.set(name, []);
      const started = performance.now();
      try {
        const results = await this.apply(caller, name, batch);
        batch.forEach((pending, i) => pending.resolve(results[i]));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
      // A busy caller: pause about one write's time (at random) before the next batch. Without it,
      // this instance, which needs no read (it kept the ETag), would write again before another
      // instance that lost a write could read and write (two round trips), and starve it; with
      // it, bigger batches, so no more time per request and fewer transactions.
      if (this.waiting.get(name)?.length) await sleep(Math.min(50, (performance.now() - started) * (0.5 + Math.random())));
    }
  }

  /** One read-modify-write of the blob for a batch of changes, each applied to the counts the one before left. */
  private async apply(caller: string, name: string, batch: readonly Pending[]): Promise<unknown[]> {
    const blob = this.container.getBlockBlobClient(name);
    for (let round = 1; ; round++) {
      let found = this.kept.get(name);
      const fromKept = found !== undefined;
      found ??= await this.read(blob);
      let counts = found.counts;
      let changed = false;
      let refused = false;
      const results = batch.map((pending) => {
        const decided = pending.change(counts);
        if (decided.counts) {
          counts = decided.counts;
          changed = true;
        } else refused = true;
        return decided.result;
      });
      // A refusal decided on kept counts is checked against a fresh read first.
      if (refused && fromKept) {
        this.kept.delete(name);
        continue;
      }
      if (!changed) {
        this.keep(name, found);
        return results;
      }
      try {
        const body = JSON.stringify(counts);
        const written = await blob.upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: "application/json" },
          conditions: found.etag ? { ifMatch: found.etag } : { ifNoneMatch: "*" },
        });
        this.keep(name, { counts, etag: written.etag });
        return results;
      } catch (error) {
        this.kept.delete(name);
        if (!isConditionFailed(error)) throw error;
        if (round >= MAX_ROUNDS) {
          throw new AppError(
            "transient",
            `The shared per-caller token count of "${caller}" changed under ${MAX_ROUNDS} writes in a row (too many instances writing at once)`,
            { code: "caller_limit_contended", cause: error },
          );
        }
        // Another instance wrote in between: let it finish before reading, up to a few round trips.
        await sleep(Math.random() * Math.min(50, 5 * round));
      }
    }
  }

  private async read(blob: BlockBlobClient): Promise<Kept> {
    await (this.ready ??= this.container.createIfNotExists().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    }));
    const { value, etag } = await readJsonBlobWithEtag<WindowCounts>(blob);
    return { counts: isCounts(value) ? value : undefined, etag };
  }

  /** Only today's blobs are kept: a name of an ended day is never written again. */
  private keep(name: string, kept: Kept): void {
    this.kept.set(name, kept);
    if (this.kept.size > 10_000) this.kept.clear();
  }
}

/** `{caller}/{yyyy-mm-dd}.json`: caller names are letters, digits and `._@-`, all valid in a blob name. */
export function blobName(caller: string, nowInMs: number): string {
  return `${caller}/${new Date(dayOf(nowInMs) * DAY_IN_MS).toISOString().slice(0, 10)}.json`;
}

function isCounts(value: unknown): value is WindowCounts {
  const v = value as Partial<WindowCounts> | undefined;
  return (
    typeof v?.minute === "number" && typeof v.minuteTokens === "number" && typeof v.day === "number" && typeof v.dayTokens === "number"
  );
}

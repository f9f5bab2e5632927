/**
 * What per-caller token limits cost a request: the time to reserve the estimate and settle with
 * the real usage (the two steps a limited request adds), and for the shared store the storage
 * transactions each request makes, counted on the wire (Node's `http.client.request.start`
 * diagnostics channel sees every request the storage SDK sends). Each instance serves 4 requests
 * of the caller at a time (reserve, 10 ms of "model", settle), or one at a time. Arms, alternated over rounds: the
 * memory store; the blob store with one instance (the usual case: it keeps the blob's ETag, so a
 * change is one conditional write); and two instances serving one caller at once (each other's
 * writes make some of their own fail with 412, then they read and write again).
 *
 * Storage is Azurite on loopback, so the times are this machine's, not Azure's: in Azure each
 * transaction costs a round trip to the storage account, and the transaction count is the figure
 * that carries over (docs/caller-limits.md).
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import diagnostics from "node:diagnostics_channel";
import { setTimeout as sleep } from "node:timers/promises";
import { BlobCounterStore } from "../src/caller-limits/blob-counter-store.js";
import { CallerLimiter } from "../src/caller-limits/caller-limiter.js";
import { MemoryCounterStore, type CounterStore } from "../src/caller-limits/counter-store.js";
import { parseCallerLimits } from "../src/caller-limits/limits-table.js";
import { startAzurite } from "../tools/local-host/azurite.js";
import { median, round, spreadOf, type Benchmark, type Figure } from "./harness.js";

const LIMITS = { tokensPerMinute: 1e11, tokensPerDay: 1e12 };
/** A request's estimate, and what it really used (a settlement always writes). */
const ESTIMATE = 600;
const USED = 150;

/** One unconditional Put Blob of the same size, the storage round trip the other times are measured against. */
async function runRoundTrip(container: ContainerClient, requests: number): Promise<ArmRound> {
  const blob = container.getBlockBlobClient("bench-round-trip.json");
  const body = JSON.stringify({ minute: 0, minuteTokens: 0, day: 0, dayTokens: 0 });
  const started = performance.now();
  for (let i = 0; i < requests; i++) await blob.upload(body, body.length);
  return { msPerRequest: (performance.now() - started) / requests, transactionsPerRequest: 1 };
}

interface ArmRound {
  msPerRequest: number;
  transactionsPerRequest: number;
}

let httpRequests = 0;
diagnostics.subscribe("http.client.request.start", () => {
  httpRequests++;
});

/** Requests of one caller each instance serves at once, and how long the model takes between reserve and settle. */
const CONCURRENCY = 4;
const MODEL_MS = 10;

/**
 * `stores.length` instances serving one caller, each with `concurrency` requests at a time,
 * `requests` one after another in each: reserve, the model's time, settle. What a request waits
 * for is its reservation: the settlement is written after the answer has gone (as the handlers do),
 * so it is not timed, only awaited at the end (its transactions count).
 */
async function runArm(stores: CounterStore[], caller: string, requests: number, concurrency = CONCURRENCY): Promise<ArmRound> {
  const table = parseCallerLimits(JSON.stringify({ default: LIMITS })).table;
  const limiters = stores.map((store) => new CallerLimiter(table, store));
  const before = httpRequests;
  let added = 0;
  const settlements: Promise<void>[] = [];
  await Promise.all(
    limiters.flatMap((limiter) =>
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < requests; i++) {
          const reserving = performance.now();
          const reservation = await limiter.reserve(caller, LIMITS, ESTIMATE);
          added += performance.now() - reserving;
          await sleep(MODEL_MS);
          settlements.push(limiter.settle(reservation, USED));
        }
      }),
    ),
  );
  await Promise.all(settlements);
  const total = requests * concurrency * limiters.length;
  return { msPerRequest: added / total, transactionsPerRequest: (httpRequests - before) / total };
}

export const callerLimitsBenchmark: Benchmark = {
  name: "caller-limits",
  description:
    "per-caller token limits: time and storage transactions a limited request adds (its reservation; the settlement is written after the answer), memory vs shared blob",
  async run({ tiny, log }) {
    const rounds = tiny ? 2 : 7;
    const requests = tiny ? 3 : 40;
    const azurite = await startAzurite();
    try {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient("caller-limits");
      await container.createIfNotExists();
      const memory = new MemoryCounterStore();
      // Each arm's instances are made once: kept ETags carry over between rounds, as in a running app.
      const single = [new BlobCounterStore(container)];
      const pair = [new BlobCounterStore(container), new BlobCounterStore(container)];
      const results = {
        memory: [] as ArmRound[],
        sequential: [] as ArmRound[],
        single: [] as ArmRound[],
        pair: [] as ArmRound[],
        roundTrip: [] as ArmRound[],
      };
      const arms: [keyof typeof results, () => Promise<ArmRound>][] = [
        ["memory", () => runArm([memory], "bench-memory", requests)],
        ["sequential", () => runArm(single, "bench-sequential", requests, 1)],
        ["single", () => runArm(single, "bench-single", requests)],
        ["pair", () => runArm(pair, "bench-pair", requests)],
        ["roundTrip", () => runRoundTrip(container, requests)],
      ];
      for (let r = 0; r < rounds; r++) {
        // Another order each round, so no arm always runs on a warmer machine.
        for (let i = 0; i < arms.length; i++) {
          const [name, run] = arms[(i + r) % arms.length]!;
          results[name].push(await run());
        }
        log(
          `round ${r + 1}: ` +
            Object.entries(results)
              .map(
                ([name, list]) => `${name} ${round(list.at(-1)!.msPerRequest, 3)} ms, ${round(list.at(-1)!.transactionsPerRequest, 2)} tx`,
              )
              .join("; "),
        );
      }
      const ms = (list: ArmRound[]) => list.map((x) => x.msPerRequest);
      const tx = (list: ArmRound[]) => list.map((x) => x.transactionsPerRequest);
      const memoryMs = median(ms(results.memory));
      const roundTripMs = median(ms(results.roundTrip));
      // Each round's time over that round's own storage round trip: the machine's load moves both alike.
      const inRoundTrips = (list: ArmRound[]) => list.map((x, i) => x.msPerRequest / results.roundTrip[i]!.msPerRequest);
      const figures: Figure[] = [
        {
          name: "time a limited request adds (reserve; settle after the answer), memory store",
          value: round(memoryMs * 1000, 1),
          unit: "µs",
          spread: spreadOf(
            ms(results.memory).map((x) => x * 1000),
            "µs",
          ),
        },
        {
          name: "time a limited request adds, storage store, one instance, 4 requests of the caller at a time (Azurite on loopback)",
          value: round(median(ms(results.single)), 2),
          unit: "ms",
          baseline: { name: "memory store", value: round(memoryMs, 4) },
          spread: spreadOf(ms(results.single), "ms"),
        },
        {
          name: "time a limited request adds, storage store, one instance, one request of the caller at a time, in storage round trips",
          value: round(median(inRoundTrips(results.sequential)), 2),
          unit: "round trips",
          spread: spreadOf(inRoundTrips(results.sequential), "round trips"),
        },
        {
          name: "storage transactions per limited request, one instance, one request of the caller at a time",
          value: round(median(tx(results.sequential)), 2),
          unit: "transactions",
          spread: spreadOf(tx(results.sequential), "transactions"),
        },
        {
          name: "storage round trip: one Put Blob of the same blob on Azurite (the unit of the round-trip figures)",
          value: round(roundTripMs, 2),
          unit: "ms",
          spread: spreadOf(ms(results.roundTrip), "ms"),
        },
        {
          name: "time a limited request adds, storage store, one instance, 4 requests of the caller at a time, in storage round trips",
          value: round(median(inRoundTrips(results.single)), 2),
          unit: "round trips",
          spread: spreadOf(inRoundTrips(results.single), "round trips"),
        },
        {
          name: "storage transactions per limited request, one instance, 4 requests of the caller at a time",
          value: round(median(tx(results.single)), 2),
          unit: "transactions",
          spread: spreadOf(tx(results.single), "transactions"),
          target: "<= 2 (a conditional write to reserve, one to settle; fewer when concurrent requests share a write)",
          pass: median(tx(results.single)) <= 2.05,
        },
        {
          name: "time a limited request adds, storage store, two instances serving one caller at once, 4 requests each (Azurite on loopback)",
          value: round(median(ms(results.pair)), 2),
          unit: "ms",
          baseline: { name: "one instance", value: round(median(ms(results.single)), 2) },
          spread: spreadOf(ms(results.pair), "ms"),
        },
        {
          name: "time a limited request adds, storage store, two instances serving one caller at once, 4 requests each, in storage round trips",
          value: round(median(inRoundTrips(results.pair)), 2),
          unit: "round trips",
          spread: spreadOf(inRoundTrips(results.pair), "round trips"),
        },
        {
          name: "storage transactions per limited request, two instances serving one caller at once, 4 requests each",
          value: round(median(tx(results.pair)), 2),
          unit: "transactions",
          baseline: { name: "one instance", value: round(median(tx(results.single)), 2) },
          spread: spreadOf(tx(results.pair), "transactions"),
        },
      ];
      return figures;
    } finally {
      await azurite.stop();
    }
  },
};

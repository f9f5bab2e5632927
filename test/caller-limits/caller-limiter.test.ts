/**
 * The limiter on both stores, the shared one against Azurite's real blob service: refusals with
 * Retry-After and the remaining-tokens headers, settlement with the real usage, and roll-over of
 * the minute and the UTC day, by moving the limiter's clock (its `now` option).
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobCounterStore, blobName } from "../../src/caller-limits/blob-counter-store.js";
import { CallerLimiter, refusedWindow, type Reservation } from "../../src/caller-limits/caller-limiter.js";
import { MemoryCounterStore, type CounterStore } from "../../src/caller-limits/counter-store.js";
import { parseCallerLimits, type TokenLimits } from "../../src/caller-limits/limits-table.js";
import { AppError } from "../../src/errors.js";
import { describeError } from "../../src/http/error-response.js";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";

let azurite: Azurite;
let blobService: BlobServiceClient;

beforeAll(async () => {
  azurite = await startAzurite();
  blobService = BlobServiceClient.fromConnectionString(azurite.connectionString);
});

afterAll(async () => {
  await azurite?.stop();
});

const TABLE = parseCallerLimits(JSON.stringify({ default: { tokensPerMinute: 1000, tokensPerDay: 2500 } })).table;
/** 2026-12-07T19:42:10Z: 50 s left in the minute. */
const START = Date.UTC(2026, 11, 7, 19, 42, 10);

let containers = 0;
const stores: [string, () => CounterStore][] = [
  ["memory", () => new MemoryCounterStore()],
  ["storage (Azurite)", () => new BlobCounterStore(blobService.getContainerClient(`caller-limits-${++containers}`))],
];

function limiterOn(store: CounterStore, clock: { now: number }): CallerLimiter {
  return new CallerLimiter(TABLE, store, { now: () => clock.now });
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe.each(stores)("per-caller limiter on the %s store", (_name, makeStore) => {
  const limits = TABLE.default as TokenLimits;

  it("reserves until the minute is full, then refuses with 429, Retry-After to the minute's end and the remaining tokens", async () => {
    const clock = { now: START };
    const limiter = limiterOn(makeStore(), clock);
    const first = await limiter.reserve("team-a", limits, 600);
    expect(first.remaining).toEqual({ minute: 400, day: 1900 });
    const error = await refusal(limiter.reserve("team-a", limits, 500));
    expect(error).toMatchObject({ kind: "throttled", code: "caller_token_limit_exceeded", retryAfterInMs: 50_000 });
    expect(error.message).toContain('Caller "team-a" has used 600 of its 1,000 tokens per minute');
    expect(error.message).toContain("resets at 2026-12-07T19:43:00Z (in 50 s)");
    expect(error.message).toContain("CALLER_TOKEN_LIMITS");
    const answer = describeError(error);
    expect(answer.status).toBe(429);
    expect(answer.body.error).toMatchObject({ type: "rate_limit_error", code: "caller_token_limit_exceeded" });
    expect(answer.headers).toMatchObject({
      "retry-after": "50",
      "retry-after-ms": "50000",
      "x-caller-remaining-tokens": "400",
      "x-caller-remaining-quota-tokens": "1900",
    });
    expect(answer.headers["x-should-retry"]).toBeUndefined(); // the clients may wait out a minute
    expect(refusedWindow(error)).toBe("minute");
    // What still fits passes; another caller has counts of its own.
    await limiter.reserve("team-a", limits, 400);
    await limiter.reserve("team-b", limits, 1000);
  });

  it("settles with the real usage: an estimate that was too high gives tokens back, one too low takes more", async () => {
    const clock = { now: START };
    const limiter = limiterOn(makeStore(), clock);
    const reservation = await limiter.reserve("team-a", limits, 900);
    await refusal(limiter.reserve("team-a", limits, 200));
    await limiter.settle(reservation, 150);
    expect(reservation.remaining).toEqual({ minute: 850, day: 2350 });
    expect(reservation.consumed).toBe(150);
    const second: Reservation = await limiter.reserve("team-a", limits, 200);
    await limiter.settle(second, 700);
    expect(second.remaining).toEqual({ minute: 150, day: 1650 });
    await refusal(limiter.reserve("team-a", limits, 151));
  });

  it("starts each minute from zero, and refuses on the day quota until the next UTC day", async () => {
    const clock = { now: START };
    const limiter = limiterOn(makeStore(), clock);
    await limiter.reserve("team-a", limits, 1000);
    clock.now = START + 49_999; // 19:42:59.999: still the same minute
    await refusal(limiter.reserve("team-a", limits, 1));
    clock.now = START + 50_000; // 19:43:00
    const next = await limiter.reserve("team-a", limits, 1000);
    expect(next.remaining).toEqual({ minute: 0, day: 500 });
    clock.now = START + 110_000; // 19:44:00: the minute is free, the day is not
    const error = await refusal(limiter.reserve("team-a", limits, 600));
    expect(error.message).toContain("2,500 tokens per UTC day");
    expect(error.message).toContain("resets at 2026-12-08T00:00:00Z");
    expect(error.retryAfterInMs).toBe(Date.UTC(2026, 11, 8) - clock.now);
    expect(describeError(error).headers).toMatchObject({
      "x-caller-remaining-tokens": "1000",
      "x-caller-remaining-quota-tokens": "500",
      "x-should-retry": "false",
    });
    clock.now = Date.UTC(2026, 11, 8, 0, 0, 1);
    expect((await limiter.reserve("team-a", limits, 600)).remaining).toEqual({ minute: 400, day: 1900 });
  });

  it("settles a reservation whose minute has ended in its day only, and one of an ended day not at all", async () => {
    const clock = { now: START };
    const limiter = limiterOn(makeStore(), clock);
    const reservation = await limiter.reserve("team-a", limits, 1000);
    clock.now = START + 60_000; // the next minute, same day
    await limiter.settle(reservation, 100);
    expect(reservation.remaining).toEqual({ minute: 1000, day: 2400 });
    const late = await limiter.reserve("team-a", limits, 500);
    clock.now = Date.UTC(2026, 11, 8, 0, 0, 5);
    await limiter.settle(late, 0);
    expect((await limiter.reserve("team-a", limits, 1000)).remaining).toEqual({ minute: 0, day: 1500 });
  });

  it("refuses a request bigger than the whole limit, saying waiting will not help", async () => {
    const limiter = limiterOn(makeStore(), { now: START });
    const error = await refusal(limiter.reserve("team-a", limits, 1001));
    expect(error.message).toMatch(
      /needs about 1,001 tokens .* more than caller "team-a"'s whole limit of 1,000 tokens per minute, so it can never pass/,
    );
  });
});

describe("the shared store (storage)", () => {
  it("never lets two instances reserving at once both pass a limit one of them should have hit", async () => {
    const container = blobService.getContainerClient("caller-limits-race");
    // Two instances: two stores, each with its own kept counts, over one container.
    const clock = { now: START };
    const limits = { tokensPerMinute: 1000 };
    const instances = [limiterOn(new BlobCounterStore(container), clock), limiterOn(new BlobCounterStore(container), clock)];
    // Each instance first learns the blob (so later writes start from possibly stale kept counts).
    await Promise.all(instances.map((limiter) => limiter.reserve("racer", limits, 10)));
    const attempts = Array.from({ length: 40 }, (_, i) => instances[i % 2]!.reserve("racer", limits, 50));
    const outcomes = await Promise.allSettled(attempts);
    const passed = outcomes.filter((o) => o.status === "fulfilled").length;
    const refused = outcomes.filter((o) => o.status === "rejected");
    // 1000 - 20 already reserved leaves room for exactly 19 reservations of 50.
    expect(passed).toBe(19);
    for (const o of refused) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: "caller_token_limit_exceeded" });
    expect(await storedCounts(container, "racer")).toMatchObject({ minuteTokens: 20 + 19 * 50, dayTokens: 20 + 19 * 50 });
  });

  it("sees tokens another instance gave back before refusing on what it kept", async () => {
    const container = blobService.getContainerClient("caller-limits-give-back");
    const clock = { now: START };
    const limits = { tokensPerMinute: 1000 };
    const [a, b] = [limiterOn(new BlobCounterStore(container), clock), limiterOn(new BlobCounterStore(container), clock)];
    const big = await a.reserve("team-a", limits, 900);
    await b.reserve("team-a", limits, 50); // b keeps counts of 950
    await a.settle(big, 100); // a gives 800 back
    await b.reserve("team-a", limits, 500); // b's kept counts would refuse; the blob says 150
    expect(await storedCounts(container, "team-a")).toMatchObject({ minuteTokens: 650 });
  });
});

async function storedCounts(container: ContainerClient, caller: string): Promise<unknown> {
  const text = (await container.getBlockBlobClient(blobName(caller, START)).downloadToBuffer()).toString("utf8");
  return JSON.parse(text);
}

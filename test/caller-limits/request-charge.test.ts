/**
 * One request's charge: what it is settled to (reported usage, the estimate for an answer whose
 * usage never came, nothing for a call never answered), streams settled when they end, and a
 * shared store that cannot be reached letting the request through, logged.
 */
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { describe, expect, it } from "vitest";
import { BlobCounterStore } from "../../src/caller-limits/blob-counter-store.js";
import { CallerLimiter } from "../../src/caller-limits/caller-limiter.js";
import { MemoryCounterStore } from "../../src/caller-limits/counter-store.js";
import { parseCallerLimits } from "../../src/caller-limits/limits-table.js";
import { chargeCaller } from "../../src/caller-limits/request-charge.js";
import type { Logger } from "../../src/logging.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../../tools/local-host/azurite.js";

const TABLE = parseCallerLimits('{"default": {"tokensPerDay": 1000}}').table;

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${String(m)}`),
    warn: (m) => lines.push(`warn ${String(m)}`),
    error: (m) => lines.push(`error ${String(m)}`),
  };
}

async function* events(count: number, fail = false): AsyncGenerator<number> {
  for (let i = 0; i < count; i++) yield i;
  if (fail) throw new Error("stream broke");
}

describe("a request's charge", () => {
  it("is settled to the usage of every answered call, the estimate for an answer without usage, nothing for none", async () => {
    const limiter = new CallerLimiter(TABLE, new MemoryCounterStore());
    const logger = recordingLogger();
    const answered = await chargeCaller(limiter, "a", () => 400, logger);
    answered.onUsage!({ promptTokens: 30, completionTokens: 12 });
    answered.onUsage!({ promptTokens: 5 }); // a second call (failover) Azure answered too
    await answered.settle();
    expect(answered.headers()).toEqual({ "x-caller-remaining-quota-tokens": String(1000 - 47), "x-caller-tokens-consumed": "47" });

    const cut = await chargeCaller(limiter, "b", () => 400, logger);
    cut.onUsage!({}); // a stream that ended before its usage chunk
    await cut.settle();
    expect(cut.headers()["x-caller-tokens-consumed"]).toBe("400");

    const never = await chargeCaller(limiter, "c", () => 400, logger);
    await never.settle();
    expect(never.headers()).toEqual({ "x-caller-remaining-quota-tokens": "1000", "x-caller-tokens-consumed": "0" });
  });

  it("settles a stream when it ends, fails or is left, and only once", async () => {
    const limiter = new CallerLimiter(TABLE, new MemoryCounterStore());
    const logger = recordingLogger();
    for (const [caller, run] of [
      [
        "done",
        async (it: AsyncIterable<number>) => {
          for await (const _ of it);
        },
      ],
      [
        "broken",
        async (it: AsyncIterable<number>) => {
          await expect(
            (async () => {
              for await (const _ of it);
            })(),
          ).rejects.toThrow("stream broke");
        },
      ],
      [
        "left",
        async (it: AsyncIterable<number>) => {
          for await (const n of it) if (n === 1) break;
        },
      ],
    ] as const) {
      const charge = await chargeCaller(limiter, caller, () => 300, logger);
      const stream = charge.settledWhenDone(events(3, caller === "broken"));
      charge.onUsage!({ promptTokens: 20, completionTokens: 10 });
      expect(charge.headers()["x-caller-tokens-consumed"]).toBeUndefined();
      await run(stream);
      expect(charge.headers()["x-caller-tokens-consumed"]).toBe("30");
      await charge.settle();
      expect(charge.headers()["x-caller-remaining-quota-tokens"]).toBe("970");
    }
  });

  it("lets the request through, unlimited, when the shared store cannot be reached, and logs why", async () => {
    // A storage endpoint nobody listens on: every request to it fails to connect.
    const container = new ContainerClient(
      "http://127.0.0.1:9/devstoreaccount1/caller-limits",
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      { retryOptions: { maxTries: 1 } },
    );
    const limiter = new CallerLimiter(TABLE, new BlobCounterStore(container));
    const logger = recordingLogger();
    const charge = await chargeCaller(limiter, "a", () => 100, logger);
    expect(charge.onUsage).toBeUndefined();
    expect(charge.headers()).toEqual({});
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(
      /^error Per-caller token limits could not be checked \(.*ECONNREFUSED.*\); the request goes ahead unlimited$/,
    );
  });
});

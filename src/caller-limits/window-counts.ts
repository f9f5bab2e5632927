/**
 * The arithmetic of per-caller limits, free of storage: a caller's counts in the current UTC minute
 * and UTC day, whether a request fits, and what its real usage changes. Both stores (memory and
 * blob) apply these functions inside their own read-modify-write, so the rules are one.
 *
 * Windows are fixed (the minute 19:42:00-19:42:59 UTC, the UTC day), not sliding: a refusal can
 * say exactly when the count resets (Retry-After, the message), the remaining-tokens headers are
 * exact, and the shared store needs one small record per caller per day. The price is that a
 * caller can spend up to twice its minute limit across a minute boundary (the end of one minute
 * and the start of the next); the day quota bounds the total either way.
 */
import type { TokenLimits } from "./limits-table.js";

export const MINUTE_IN_MS = 60_000;
export const DAY_IN_MS = 86_400_000;

export type LimitWindow = "minute" | "day";

/** A caller's tokens in one minute and one day, each named by its index since the epoch (UTC). */
export interface WindowCounts {
  minute: number;
  minuteTokens: number;
  day: number;
  dayTokens: number;
}

/** Remaining tokens of each window the caller is limited on (absent: no limit on it). */
export interface Remaining {
  minute?: number;
  day?: number;
}

export type Decision =
  | { allowed: true; counts: WindowCounts; remaining: Remaining }
  | {
      allowed: false;
      window: LimitWindow;
      limit: number;
      used: number;
      /** The request alone is over the window's limit: waiting never lets it pass. */
      neverFits: boolean;
      /** When the refusing window's count resets (epoch ms). */
      resetsAt: number;
      remaining: Remaining;
    };

export function minuteOf(nowInMs: number): number {
  return Math.floor(nowInMs / MINUTE_IN_MS);
}

export function dayOf(nowInMs: number): number {
  return Math.floor(nowInMs / DAY_IN_MS);
}

/** The stored counts as of now: a window that has ended counts from zero again. */
export function countsAt(stored: WindowCounts | undefined, nowInMs: number): WindowCounts {
  const minute = minuteOf(nowInMs);
  const day = dayOf(nowInMs);
  return {
    minute,
    minuteTokens: stored?.minute === minute ? stored.minuteTokens : 0,
    day,
    dayTokens: stored?.day === day ? stored.dayTokens : 0,
  };
}

export function remainingOf(counts: WindowCounts, limits: TokenLimits): Remaining {
  const remaining: Remaining = {};
  if (limits.tokensPerMinute !== undefined) remaining.minute = Math.max(0, limits.tokensPerMinute - counts.minuteTokens);
  if (limits.tokensPerDay !== undefined) remaining.day = Math.max(0, limits.tokensPerDay - counts.dayTokens);
  return remaining;
}

/**
 * Whether `tokens` more fit in both windows; if so, the counts with them added. The day is checked
 * first: when both are full, the day's reset is the one worth waiting for.
 */
export function decide(stored: WindowCounts | undefined, nowInMs: number, limits: TokenLimits, tokens: number): Decision {
  const counts = countsAt(stored, nowInMs);
  const checks: [LimitWindow, number | undefined, number, number][] = [
    ["day", limits.tokensPerDay, counts.dayTokens, (counts.day + 1) * DAY_IN_MS],
    ["minute", limits.tokensPerMinute, counts.minuteTokens, (counts.minute + 1) * MINUTE_IN_MS],
  ];
  for (const [window, limit, used, resetsAt] of checks) {
    if (limit !== undefined && used + tokens > limit) {
      return { allowed: false, window, limit, used, neverFits: tokens > limit, resetsAt, remaining: remainingOf(counts, limits) };
    }
  }
  const after = { ...counts, minuteTokens: counts.minuteTokens + tokens, dayTokens: counts.dayTokens + tokens };
  return { allowed: true, counts: after, remaining: remainingOf(after, limits) };
}

/**
 * The counts after a reservation made in minute `minute` of day `day` turned out to cost `delta`
 * tokens more (or, negative, fewer): only windows still current change (an ended window no longer
 * limits anything), and a count never goes below zero.
 */
export function adjust(
  stored: WindowCounts | undefined,
  nowInMs: number,
  reservedIn: { minute: number; day: number },
  delta: number,
): WindowCounts {
  const counts = countsAt(stored, nowInMs);
  if (counts.minute === reservedIn.minute) counts.minuteTokens = Math.max(0, counts.minuteTokens + delta);
  if (counts.day === reservedIn.day) counts.dayTokens = Math.max(0, counts.dayTokens + delta);
  return counts;
}

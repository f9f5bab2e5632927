/**
 * CALLER_TOKEN_LIMITS: how many tokens each caller may spend, per minute and per UTC day.
 *
 * ```json
 * { "default": { "tokensPerMinute": 50000 }, "team-a": { "tokensPerMinute": 200000, "tokensPerDay": 5000000 }, "batch": {} }
 * ```
 *
 * A caller listed by name gets its own entry (an empty one: no limits), every other caller the
 * `default` entry; without `default`, callers not listed are not limited. Caller names are the
 * ones src/http/caller.ts gives (letters, digits and `._@-`, at most 64).
 */

/** What one caller may spend; an absent field is no limit on that window. */
export interface TokenLimits {
  tokensPerMinute?: number;
  tokensPerDay?: number;
}

export interface CallerLimitsTable {
  /** Limits of callers not listed; undefined: they are not limited. */
  default: TokenLimits | undefined;
  byCaller: ReadonlyMap<string, TokenLimits>;
}

export const DEFAULT_ENTRY = "default";
const CALLER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const FIELDS = ["tokensPerMinute", "tokensPerDay"] as const;
/** Far above any deployment's quota; a bigger number is a typo (and would lose precision). */
const MAX_LIMIT = 1e12;

/** The limits that apply to `caller`, or undefined when none do. */
export function limitsFor(table: CallerLimitsTable, caller: string): TokenLimits | undefined {
  const limits = table.byCaller.get(caller) ?? table.default;
  return limits && limitsSomething(limits) ? limits : undefined;
}

/** True when no caller can ever be limited (no table, or only empty entries). */
export function limitsNobody(table: CallerLimitsTable): boolean {
  return !(table.default && limitsSomething(table.default)) && ![...table.byCaller.values()].some(limitsSomething);
}

function limitsSomething(limits: TokenLimits): boolean {
  return limits.tokensPerMinute !== undefined || limits.tokensPerDay !== undefined;
}

/**
 * Parses the table's JSON; every problem is named (entry and field) with how to fix it.
 * Problems never quote values other than numbers, so a pasted secret does not reach a log.
 */
export function parseCallerLimits(json: string): { table: CallerLimitsTable; problems: string[] } {
  const problems: string[] = [];
  const byCaller = new Map<string, TokenLimits>();
  let defaults: TokenLimits | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    problems.push(
      `is not valid JSON (${(error as Error).message}); write an object of caller name to limits, e.g. {"default": {"tokensPerMinute": 50000}}`,
    );
    return { table: { default: undefined, byCaller }, problems };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push('must be a JSON object of caller name to limits, e.g. {"default": {"tokensPerMinute": 50000}}');
    return { table: { default: undefined, byCaller }, problems };
  }
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name !== DEFAULT_ENTRY && !CALLER_NAME.test(name)) {
      problems.push(
        `has an entry named "${name.slice(0, 64).replace(/[^A-Za-z0-9._@-]/g, "_")}", which is not a caller name; callers are named with up to 64 letters, digits and . _ @ - (docs/caller-limits.md)`,
      );
      continue;
    }
    const limits = parseEntry(name, entry, problems);
    if (!limits) continue;
    if (name === DEFAULT_ENTRY) defaults = limits;
    else byCaller.set(name, limits);
  }
  return { table: { default: defaults, byCaller }, problems };
}

function parseEntry(name: string, entry: unknown, problems: string[]): TokenLimits | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    problems.push(
      `gives "${name}" a value that is not an object; write e.g. "${name}": {"tokensPerMinute": 50000, "tokensPerDay": 1000000}`,
    );
    return undefined;
  }
  const limits: TokenLimits = {};
  let valid = true;
  for (const [field, value] of Object.entries(entry as Record<string, unknown>)) {
    if (!(FIELDS as readonly string[]).includes(field)) {
      problems.push(`gives "${name}" the unknown field "${field.slice(0, 40)}"; the fields are ${FIELDS.join(" and ")}`);
      valid = false;
      continue;
    }
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) {
      problems.push(
        `gives "${name}" a ${field} that is not a whole number from 1 to ${MAX_LIMIT}${typeof value === "number" ? ` (got ${value})` : ""}; leave the field out for no limit`,
      );
      valid = false;
      continue;
    }
    limits[field as (typeof FIELDS)[number]] = value;
  }
  return valid ? limits : undefined;
}

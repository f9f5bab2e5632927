import { describe, expect, it } from "vitest";
import { limitsFor, limitsNobody, parseCallerLimits } from "../../src/caller-limits/limits-table.js";
import { loadConfig } from "../../src/config.js";
import { ConfigurationError } from "../../src/errors.js";

const BASE_ENV = { AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com", AzureWebJobsStorage: "UseDevelopmentStorage=true" };

describe("CALLER_TOKEN_LIMITS", () => {
  it("gives a listed caller its own entry, every other caller the default, and an empty entry no limits", () => {
    const { table, problems } = parseCallerLimits(
      JSON.stringify({ default: { tokensPerMinute: 50000 }, "team-a": { tokensPerMinute: 200000, tokensPerDay: 5000000 }, batch: {} }),
    );
    expect(problems).toEqual([]);
    expect(limitsFor(table, "team-a")).toEqual({ tokensPerMinute: 200000, tokensPerDay: 5000000 });
    expect(limitsFor(table, "key-3f9a1c2b4d5e")).toEqual({ tokensPerMinute: 50000 });
    expect(limitsFor(table, "batch")).toBeUndefined();
    expect(limitsNobody(table)).toBe(false);
  });

  it("without a default, leaves callers not listed unlimited", () => {
    const { table } = parseCallerLimits('{"team-a": {"tokensPerDay": 1000}}');
    expect(limitsFor(table, "team-b")).toBeUndefined();
    expect(limitsNobody(parseCallerLimits('{"team-a": {}}').table)).toBe(true);
  });

  it("names every problem at once, with the entry, the field and the fix", () => {
    const { problems } = parseCallerLimits(
      JSON.stringify({
        default: { tokensPerMinute: 0 },
        "team a": { tokensPerMinute: 10 },
        "team-b": { tokensPerHour: 10 },
        "team-c": { tokensPerDay: 1.5 },
        "team-d": 100,
        "team-e": { tokensPerMinute: "100" },
      }),
    );
    expect(problems).toHaveLength(6);
    expect(problems[0]).toMatch(/"default" a tokensPerMinute that is not a whole number from 1 .* \(got 0\)/);
    expect(problems[1]).toMatch(/entry named "team_a", which is not a caller name/);
    expect(problems[2]).toMatch(/"team-b" the unknown field "tokensPerHour"; the fields are tokensPerMinute and tokensPerDay/);
    expect(problems[3]).toMatch(/"team-c" a tokensPerDay .* \(got 1\.5\)/);
    expect(problems[4]).toMatch(/"team-d" a value that is not an object/);
    expect(problems[5]).toMatch(/"team-e" a tokensPerMinute that is not a whole number/);
  });

  it("refuses what is not a JSON object", () => {
    expect(parseCallerLimits("{oops").problems[0]).toMatch(/is not valid JSON/);
    expect(parseCallerLimits("[]").problems[0]).toMatch(/must be a JSON object/);
  });

  it("is checked at start with the other settings: every problem under the setting's name", () => {
    let error: unknown;
    try {
      loadConfig({
        ...BASE_ENV,
        CALLER_TOKEN_LIMITS: '{"default": {"tokensPerMinute": -1}, "x": {"perDay": 1}}',
        CALLER_LIMITS_STORE: "redis",
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const problems = (error as ConfigurationError).problems;
    expect(problems.filter((p) => p.startsWith("CALLER_TOKEN_LIMITS "))).toHaveLength(2);
    expect(problems).toContain('CALLER_LIMITS_STORE must be one of "memory", "storage" (got "redis")');
  });

  it("reads the table from a file named by the setting, relative to the app's folder", () => {
    const config = loadConfig({ ...BASE_ENV, CALLER_TOKEN_LIMITS: "test/caller-limits/fixtures/limits.json" });
    expect(limitsFor(config.callerLimits.table, "team-a")).toEqual({ tokensPerMinute: 1000 });
    expect(config.callerLimits.store).toBe("memory");
    expect(() => loadConfig({ ...BASE_ENV, CALLER_TOKEN_LIMITS: "no/such/limits.json" })).toThrow(
      /CALLER_TOKEN_LIMITS names the file .*limits\.json, which cannot be read \(ENOENT\)/,
    );
  });
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { callerOf, keyFingerprint, type CallerConfig } from "../../src/http/caller.js";

const MINIMAL = { AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com", AzureWebJobsStorage: "UseDevelopmentStorage=true" };
const KEY = "a-function-key-for-tests-0123456789";
const FINGERPRINT = createHash("sha256").update(KEY).digest("hex").slice(0, 12);

function callers(env: Record<string, string> = {}): CallerConfig {
  return loadConfig({ ...MINIMAL, ...env }).http.callers;
}

function request(headers: Record<string, string>, query = ""): { headers: Headers; url: string } {
  return { headers: new Headers(headers), url: `http://localhost:7071/api/v1/chat/completions${query}` };
}

describe("callerOf", () => {
  it("names a function key by its fingerprint, from the header or the code parameter", () => {
    expect(keyFingerprint(KEY)).toBe(FINGERPRINT);
    expect(callerOf(request({ "x-functions-key": KEY }), callers())).toBe(`key-${FINGERPRINT}`);
    expect(callerOf(request({}, `?code=${encodeURIComponent(KEY)}`), callers())).toBe(`key-${FINGERPRINT}`);
  });

  it("uses the name CALLER_NAMES gives the key, and never the key itself", () => {
    const named = callers({ CALLER_NAMES: JSON.stringify({ "team-a": FINGERPRINT }) });
    expect(callerOf(request({ "x-functions-key": KEY }), named)).toBe("team-a");
    expect(callerOf(request({ "x-functions-key": "another-key" }), named)).toMatch(/^key-[0-9a-f]{12}$/);
    expect(callerOf(request({ "x-functions-key": KEY }), named)).not.toContain(KEY);
  });

  it("ignores a self-declared x-caller while keys are required", () => {
    expect(callerOf(request({ "x-functions-key": KEY, "x-caller": "someone-else" }), callers())).toBe(`key-${FINGERPRINT}`);
  });

  it("takes x-caller when keys are off, made safe for a metric dimension", () => {
    const open = callers({ HTTP_AUTH_LEVEL: "anonymous" });
    expect(callerOf(request({ "x-caller": "nightly-jobs" }), open)).toBe("nightly-jobs");
    expect(callerOf(request({ "x-caller": "Ann's app / v2" }), open)).toBe("Ann_s_app___v2");
    expect(callerOf(request({ "x-caller": "x".repeat(500) }), open)).toHaveLength(64);
    expect(callerOf(request({}), open)).toBe("anonymous");
    // Dots alone would be a path segment where the name names a blob (the shared limits store).
    expect(callerOf(request({ "x-caller": ".." }), open)).toBe("__");
    expect(callerOf(request({ "x-caller": "v1.2" }), open)).toBe("v1.2");
  });

  it("trusts Easy Auth's principal only when App Service authentication is on", () => {
    const headers = { "x-ms-client-principal-name": "ann@contoso.com", "x-functions-key": KEY };
    expect(callerOf(request(headers), callers({ WEBSITE_AUTH_ENABLED: "True" }))).toBe("ann@contoso.com");
    expect(callerOf(request(headers), callers())).toBe(`key-${FINGERPRINT}`);
  });
});

describe("CALLER_NAMES", () => {
  function problemsOf(value: string): string[] {
    try {
      loadConfig({ ...MINIMAL, CALLER_NAMES: value });
      return [];
    } catch (error) {
      return [...(error as { problems: string[] }).problems];
    }
  }

  it("refuses a key pasted in place of its fingerprint without repeating the key", () => {
    const problems = problemsOf(JSON.stringify({ "team-a": KEY }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('caller "team-a"');
    expect(problems[0]).toContain("sha256sum");
    expect(problems.join("\n")).not.toContain(KEY);
  });

  it("lists every problem at once: bad JSON shape, bad names, shared fingerprints", () => {
    expect(problemsOf("[1]")[0]).toMatch(/must be a JSON object/);
    expect(problemsOf("{not json")[0]).toMatch(/not valid JSON/);
    const problems = problemsOf(JSON.stringify({ "bad name": FINGERPRINT, a: FINGERPRINT, b: FINGERPRINT }));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/"bad_name", which is not a valid name/);
    expect(problems[1]).toMatch(/callers "a" and "b" the same key fingerprint/);
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../src/config.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { scripts: Record<string, string> };

describe("local.settings.sample.json", () => {
  const sample = JSON.parse(readFileSync(new URL("../local.settings.sample.json", import.meta.url), "utf8")) as {
    Values: Record<string, string>;
  };

  it("lists every setting the app reads, with the default the config module applies", () => {
    for (const setting of SETTINGS) {
      expect(sample.Values, setting.name).toHaveProperty(setting.name);
      if (setting.defaultValue !== undefined) expect(sample.Values[setting.name], setting.name).toBe(setting.defaultValue);
    }
  });
});

describe("README", () => {
  it("documents every setting the app reads", () => {
    const settingsSection = readme.slice(readme.indexOf("## Settings"), readme.indexOf("### Authentication"));
    const undocumented = SETTINGS.filter((s) => !settingsSection.includes(s.name.replace(/^AzureWebJobsStorage__/, "__")));
    expect(undocumented.map((s) => s.name)).toEqual([]);
  });

  it("documents each default exactly as the config module applies it", () => {
    for (const setting of SETTINGS.filter((s) => s.defaultValue !== undefined)) {
      expect(readme, setting.name).toContain(`| \`${setting.name}\` | \`${setting.defaultValue}\` |`);
    }
  });

  it("the quick start's two commands exist as npm scripts", () => {
    expect(readme).toContain("npm install && npm start");
    expect(readme).toContain("npm test");
    expect(pkg.scripts.start).toBeTruthy();
    expect(pkg.scripts.test).toMatch(/vitest run/);
  });
});

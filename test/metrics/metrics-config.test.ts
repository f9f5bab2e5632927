import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { ConfigurationError } from "../../src/errors.js";

const BASE = { AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com", AzureWebJobsStorage: "UseDevelopmentStorage=true" };
const CONNECTION_STRING =
  "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/";

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...BASE, ...env });
    return [];
  } catch (error) {
    return (error as ConfigurationError).problems;
  }
}

describe("metrics settings", () => {
  it("are off by default: nothing leaves the machine without a connection string or an OTLP endpoint", () => {
    const config = loadConfig(BASE);
    expect(config.metrics.export).toBe("off");
    expect(config.metrics.prices.models.size).toBe(0);
    expect(config.metrics.consoleIntervalInMs).toBe(10_000);
  });

  it("auto picks Application Insights when its connection string is set, else OTLP when its endpoint is", () => {
    expect(loadConfig({ ...BASE, APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING }).metrics.export).toBe("azure-monitor");
    const otlp = loadConfig({ ...BASE, OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318/" }).metrics;
    expect(otlp).toMatchObject({ export: "otlp", otlpEndpoint: "http://localhost:4318" });
    expect(
      loadConfig({ ...BASE, METRICS_EXPORT: "console", APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING }).metrics.export,
    ).toBe("console");
  });

  it("names what an exporter is missing, and a malformed setting", () => {
    expect(problemsOf({ METRICS_EXPORT: "azure-monitor" })).toEqual([
      "APPLICATIONINSIGHTS_CONNECTION_STRING is missing, and METRICS_EXPORT is azure-monitor; set it to the Application Insights resource's connection string (the Bicep in infra/ does), or choose another METRICS_EXPORT",
    ]);
    expect(problemsOf({ METRICS_EXPORT: "otlp" })).toEqual([
      "OTEL_EXPORTER_OTLP_ENDPOINT is missing, and METRICS_EXPORT is otlp; set it, e.g. http://localhost:4318",
    ]);
    expect(
      problemsOf({
        METRICS_EXPORT: "prometheus",
        OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318",
        APPLICATIONINSIGHTS_CONNECTION_STRING: "abc",
      }),
    ).toEqual([
      'METRICS_EXPORT must be one of "auto", "azure-monitor", "otlp", "console", "off" (got "prometheus")',
      'OTEL_EXPORTER_OTLP_ENDPOINT is not an http(s) URL (got "localhost:4318"); e.g. http://localhost:4318',
      "APPLICATIONINSIGHTS_CONNECTION_STRING is not an Application Insights connection string (it has no InstrumentationKey=); copy it from the resource's Overview page",
    ]);
  });

  it("reads AI_PRICES as JSON or from a file, and lists every problem in it with the other settings'", () => {
    const table = { currency: "USD", models: { "gpt-4o-mini": { inputPer1M: 0.15, outputPer1M: 0.6 } } };
    expect(loadConfig({ ...BASE, AI_PRICES: JSON.stringify(table) }).metrics.prices.models.get("gpt-4o-mini")).toEqual({
      inputPer1M: 0.15,
      outputPer1M: 0.6,
    });
    const file = path.join(mkdtempSync(path.join(tmpdir(), "prices-")), "prices.json");
    writeFileSync(file, JSON.stringify(table));
    expect(loadConfig({ ...BASE, AI_PRICES: file }).metrics.prices.currency).toBe("USD");
    expect(problemsOf({ AI_PRICES: '{"models": {"gpt-4o": {"inputPer1M": "cheap"}}}', HTTP_AUTH_LEVEL: "none" })).toEqual([
      'HTTP_AUTH_LEVEL must be one of "function", "anonymous" (got "none")',
      'AI_PRICES "models"."gpt-4o"."inputPer1M" must be a number of at least 0 (got "cheap")',
    ]);
    expect(problemsOf({ AI_PRICES: "missing-prices.json" })[0]).toMatch(
      /^AI_PRICES names the file .*missing-prices\.json, which cannot be read \(ENOENT\)/,
    );
  });
});

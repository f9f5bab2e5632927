/**
 * The exporter the settings choose, loaded as the app loads it (src/metrics/export.ts): to a
 * loopback OTLP/HTTP receiver, what leaves the process is OTLP JSON with the metric names and
 * dimensions the docs promise; to Application Insights, each export first gets an Entra ID token
 * for Azure Monitor from the managed identity (here a loopback identity endpoint, as App Service
 * serves one), never a key.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { awaitMeter, recordCall, recordPipelineItem, resetMetrics, usePrices } from "../../src/metrics/index.js";
import { flushMetrics, startExport } from "../../src/metrics/export.js";
import { startRecordingServer } from "../support/recording-server.js";

let receiver: Awaited<ReturnType<typeof startRecordingServer>>;

beforeAll(async () => {
  receiver = await startRecordingServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end("{}");
  });
});
afterAll(async () => {
  resetMetrics();
  await receiver?.stop();
});

describe("METRICS_EXPORT=azure-monitor", () => {
  it("authenticates with the managed identity's token for Azure Monitor", async () => {
    const identity = await startRecordingServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      const expiresOn = Math.floor(Date.now() / 1000) + 3600;
      response.end(
        JSON.stringify({
          access_token: "token-from-the-identity",
          expires_on: String(expiresOn),
          token_type: "Bearer",
          resource: "https://monitor.azure.com/",
        }),
      );
    });
    // The managed identity credential reads the platform's identity endpoint from the environment
    // (as on App Service).
    const saved = { ...process.env };
    Object.assign(process.env, {
      IDENTITY_ENDPOINT: identity.url,
      IDENTITY_HEADER: "identity-header",
    });
    delete process.env.APPLICATION_INSIGHTS_NO_STATSBEAT;
    try {
      const config = loadConfig({
        AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com",
        AzureWebJobsStorage: "UseDevelopmentStorage=true",
        IDENTITY_ENDPOINT: identity.url,
        // Ingestion on a loopback port nobody listens on: the token is fetched before the send fails.
        APPLICATIONINSIGHTS_CONNECTION_STRING:
          "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/",
      });
      expect(config.metrics.export).toBe("azure-monitor");
      resetMetrics();
      await startExport(config);
      recordPipelineItem("images", "processed");
      await flushMetrics().catch(() => undefined);
      const tokenRequests = identity.requests.map((request) => new URL(request.url, identity.url));
      expect(tokenRequests.length).toBeGreaterThan(0);
      expect(tokenRequests[0]!.searchParams.get("resource")).toMatch(/^https:\/\/monitor\.azure\.com\/?$/);
      expect(identity.requests[0]!.headers["x-identity-header"]).toBe("identity-header");
      // The exporter's reports on itself to Microsoft (statsbeat) are turned off by the app, not by the test.
      expect(process.env.APPLICATION_INSIGHTS_NO_STATSBEAT).toBe("true");
    } finally {
      for (const name of ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "APPLICATION_INSIGHTS_NO_STATSBEAT"]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      await identity.stop();
    }
  });
});

describe("METRICS_EXPORT=otlp", () => {
  it("sends the app's metrics as OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_ENDPOINT's /v1/metrics", async () => {
    const config = loadConfig({
      AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com",
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
      METRICS_EXPORT: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
      AI_PRICES: '{"models": {"gpt-4o": {"inputPer1M": 2.5, "outputPer1M": 10}}}',
    });
    resetMetrics();
    usePrices(config.metrics.prices);
    // As at app start: measurements made while the exporter loads are kept, then sent with the rest.
    awaitMeter();
    recordPipelineItem("speech", "poisoned");
    await startExport(config);
    const labels = { capability: "chat", model: "gpt-4o", deployment: "prod-4o", backend: "eu", caller: "team-x" } as const;
    recordCall(labels, {
      outcome: "ok",
      durationInMs: 120,
      timeToFirstTokenInMs: 40,
      usage: { promptTokens: 1000, completionTokens: 100 },
    });
    await flushMetrics();

    const sent = receiver.requests.filter((request) => request.url === "/v1/metrics");
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0]!.method).toBe("POST");
    expect(sent[0]!.headers["content-type"]).toMatch(/^application\/json/);
    const body = JSON.parse(sent.at(-1)!.body) as {
      resourceMetrics: {
        scopeMetrics: {
          metrics: {
            name: string;
            sum?: {
              dataPoints: { asDouble?: number; asInt?: number | string; attributes: { key: string; value: { stringValue?: string } }[] }[];
            };
          }[];
        }[];
      }[];
    };
    const metrics = body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    expect(metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining(["aoai.requests", "aoai.tokens", "aoai.cost", "aoai.duration", "aoai.time_to_first_token", "pipeline.items"]),
    );
    const cost = metrics.find((m) => m.name === "aoai.cost")!.sum!.dataPoints[0]!;
    expect(cost.asDouble).toBeCloseTo((1000 * 2.5 + 100 * 10) / 1_000_000, 12);
    const attributes = Object.fromEntries(cost.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(attributes).toEqual({ capability: "chat", model: "gpt-4o", deployment: "prod-4o", backend: "eu", caller: "team-x" });
    const items = metrics.find((m) => m.name === "pipeline.items")!.sum!.dataPoints[0]!;
    expect(Number(items.asInt ?? items.asDouble)).toBe(1);
  });
});

describe("an instance scaled in (SIGTERM)", () => {
  it("sends the metrics gathered since the last export, then exits on the signal", async () => {
    // A process of its own, as the Functions worker is: the app's built export module, a call
    // recorded, the next periodic export a minute away. Then the platform's SIGTERM.
    const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/src");
    const script = `
      const { loadConfig } = await import(${JSON.stringify(pathToFileURL(path.join(dist, "config.js")).href)});
      const { recordCall } = await import(${JSON.stringify(pathToFileURL(path.join(dist, "metrics/index.js")).href)});
      const { startExport } = await import(${JSON.stringify(pathToFileURL(path.join(dist, "metrics/export.js")).href)});
      await startExport(loadConfig({
        AZURE_OPENAI_ENDPOINT: "https://contoso.openai.azure.com",
        AzureWebJobsStorage: "UseDevelopmentStorage=true",
        METRICS_EXPORT: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: ${JSON.stringify(`${receiver.url}/`)},
      }));
      recordCall({ capability: "chat", model: "gpt-4o", deployment: "prod-4o", backend: "eu", caller: "scaled-in" }, {
        outcome: "ok", durationInMs: 80, usage: { promptTokens: 10, completionTokens: 5 },
      });
      setInterval(() => undefined, 60_000); // stays up, as a worker does, until told to go
      console.log("ready");
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    child.stdout.setEncoding("utf8");
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (data: string) => {
        out += data;
        if (out.includes("ready")) resolve();
      });
      child.once("exit", () => reject(new Error(`the exporting process ended before it was ready: ${out}`)));
    });
    const before = receiver.requests.length;
    child.kill("SIGTERM");
    const [code, signal] = await exited;
    // It still ends as SIGTERM ends a process (the listener re-sends the signal once flushed).
    expect({ code, signal }).toEqual({ code: null, signal: "SIGTERM" });
    const sent = receiver.requests.slice(before).filter((request) => request.url === "/v1/metrics");
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toContain("aoai.requests");
    expect(sent[0]!.body).toContain("scaled-in");
  }, 20_000);
});

/**
 * The OpenTelemetry SDK and its exporter, loaded on first use (src/metrics/start.ts imports this
 * module dynamically): the SDK and the Azure Monitor exporter are several hundred kilobytes that a
 * cold start should not parse before the first invocation.
 *
 * Azure Monitor: the OpenTelemetry metrics SDK with @azure/monitor-opentelemetry-exporter's metric
 * exporter, not the @azure/monitor-opentelemetry distro. The distro also starts tracing, logs and
 * the http/undici auto-instrumentations, which hook every request (a cost on the streaming path
 * issue #22 measured to the microsecond) and grow the package; the app only needs its metrics,
 * and the Functions host already sends requests, traces and logs to Application Insights.
 * It authenticates with the app's managed identity (Entra ID), as APPLICATIONINSIGHTS_AUTHENTICATION_STRING
 * does for the host, so Application Insights can refuse local-auth ingestion.
 */
import { diag, DiagConsoleLogger, DiagLogLevel } from "@opentelemetry/api";
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { Config } from "../config.js";
import { createCredential } from "../openai/credential.js";
import { useMeter } from "./index.js";

/** How often measurements are sent: Azure Monitor's metrics are per minute anyway. */
const EXPORT_INTERVAL_MS = 60_000;

let provider: MeterProvider | undefined;

/**
 * Starts the exporter the settings choose and records into it from now on.
 * @throws Error when the exporter cannot be built (a malformed connection string).
 */
export async function startExport(config: Config): Promise<void> {
  // A failed export (a refused token, an unreachable endpoint) is said in the host log, once per
  // failure; OpenTelemetry's own logger is silent unless given one.
  diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.ERROR);
  const exporter = await createExporter(config);
  provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": "azure-openai-functions" }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: EXPORT_INTERVAL_MS })],
  });
  useMeter(provider.getMeter("azure-openai-functions"));
  // An instance scaled in gets SIGTERM: send what the last interval gathered before it goes.
  // A SIGTERM listener stops Node's default exit, so the signal is sent again once the flush is done
  // (`once` has removed this listener by then).
  process.once("SIGTERM", () => {
    void flushMetrics()
      .catch(() => undefined)
      .finally(() => process.kill(process.pid, "SIGTERM"));
  });
}

/** Sends what has been measured since the last export now, instead of at the next interval. */
export async function flushMetrics(): Promise<void> {
  await provider?.forceFlush();
}

async function createExporter(config: Config): Promise<PushMetricExporter> {
  const metrics = config.metrics;
  if (metrics.export === "azure-monitor") {
    // Unless told not to, the exporter also reports on itself ("statsbeat") to an endpoint of
    // Microsoft's, not the user's Application Insights. The app sends nothing its operator did not
    // ask for, so that is off; the exporter reads only this environment variable for it.
    // eslint-disable-next-line no-restricted-properties -- a write the exporter reads, not a setting of the app's
    process.env.APPLICATION_INSIGHTS_NO_STATSBEAT ??= "true";
    const { AzureMonitorMetricExporter } = await import("@azure/monitor-opentelemetry-exporter");
    return new AzureMonitorMetricExporter({
      connectionString: metrics.applicationInsightsConnectionString,
      credential: createCredential({ managedIdentityAvailable: config.openai.managedIdentityAvailable, clientId: config.openai.clientId }),
      // Failed batches are not spooled to the instance's disk: metrics a minute late are worth less than a clean disk.
      disableOfflineStorage: true,
    });
  }
  const { OTLPMetricExporter } = await import("@opentelemetry/exporter-metrics-otlp-http");
  // OTEL_EXPORTER_OTLP_ENDPOINT is the base URL; each signal has its own path under it (OTLP/HTTP spec).
  return new OTLPMetricExporter({ url: `${metrics.otlpEndpoint}/v1/metrics` });
}

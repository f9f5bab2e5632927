/**
 * Turns the metrics on as the settings say (METRICS_EXPORT), at app start (src/setup.ts). The
 * exporter itself is loaded in the background, after the entry point has loaded.
 */
import type { Config } from "../config.js";
import { abandonMeter, awaitMeter, usageSnapshot, usePrices } from "./index.js";
import { startConsoleSummary } from "./console-summary.js";

export function startMetrics(config: Config): void {
  const metrics = config.metrics;
  usePrices(metrics.prices);
  if (metrics.export === "off") return;
  if (metrics.export === "console") {
    startConsoleSummary(metrics.consoleIntervalInMs, usageSnapshot, (text) => console.info(text));
    return;
  }
  awaitMeter();
  import("./export.js")
    .then(({ startExport }) => startExport(config))
    .catch((error: unknown) => {
      abandonMeter();
      // Metrics are worth less than the app: it keeps serving, and the host log says why there are none.
      console.error(`Metrics export (${metrics.export}) could not start: ${error instanceof Error ? error.message : String(error)}`);
    });
}

/**
 * Turns the metrics on as the settings say (METRICS_EXPORT), at app start (src/setup.ts). The
 * exporter itself is loaded in the background, EXPORTER_START_DELAY_MS after the entry point.
 */
import type { Config } from "../config.js";
import { abandonMeter, awaitMeter, usageSnapshot, usePrices } from "./index.js";
import { startConsoleSummary } from "./console-summary.js";

/**
 * How long after start the exporter is loaded. Loading and starting it takes about 160 ms of CPU
 * (measured: the bundled Azure Monitor exporter and SDK, in a fresh process on a loaded 2-core
 * machine; the entry point itself took 68 ms there): at once, it would land on the first
 * invocation of a cold instance, the one a caller waits on. Measurements made meanwhile are kept
 * and sent with the first export.
 */
export const EXPORTER_START_DELAY_MS = 10_000;

export function startMetrics(config: Config): void {
  const metrics = config.metrics;
  usePrices(metrics.prices);
  if (metrics.export === "off") return;
  if (metrics.export === "console") {
    startConsoleSummary(metrics.consoleIntervalInMs, usageSnapshot, (text) => console.info(text));
    return;
  }
  awaitMeter();
  const load = () =>
    import("./export.js")
      .then(({ startExport }) => startExport(config))
      .catch((error: unknown) => {
        abandonMeter();
        // Metrics are worth less than the app: it keeps serving, and the host log says why there are none.
        console.error(`Metrics export (${metrics.export}) could not start: ${error instanceof Error ? error.message : String(error)}`);
      });
  // Never what keeps a process alive (a script that loads the app and exits must not wait for it).
  setTimeout(() => void load(), EXPORTER_START_DELAY_MS).unref();
}

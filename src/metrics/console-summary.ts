/**
 * METRICS_EXPORT=console: a compact summary of the totals every METRICS_CONSOLE_INTERVAL_MS, for a
 * developer watching `npm start`. Printed from the in-process totals rather than through
 * OpenTelemetry's ConsoleMetricExporter, whose output is every data point of every metric as an
 * object dump, dozens of lines a minute that nobody reads.
 */
import type { UsageSnapshot } from "./usage-totals.js";

/** The summary's lines, or none when nothing happened yet. */
export function formatUsageSummary(snapshot: UsageSnapshot): string[] {
  if (snapshot.totals.length === 0 && snapshot.pipelines.length === 0) return [];
  const lines = [`[metrics] since ${snapshot.since}`];
  for (const total of snapshot.totals) {
    const t = total.tokens;
    const parts = [
      `${total.caller} ${total.model}:`,
      `${total.requests} req${total.failed ? ` (${total.failed} failed)` : ""},`,
      `tokens prompt ${t.prompt} completion ${t.completion}${t.cached ? ` cached ${t.cached}` : ""}${t.reasoning ? ` reasoning ${t.reasoning}` : ""},`,
    ];
    if (total.audioMinutes) parts.push(`audio ${total.audioMinutes.toFixed(2)} min,`);
    if (total.images) parts.push(`images ${total.images},`);
    parts.push(`cost ${total.cost.toFixed(6)} ${snapshot.currency}${total.unpriced ? ` (+${total.unpriced} unpriced)` : ""}`);
    lines.push(`  ${parts.join(" ")}`);
  }
  if (snapshot.pipelines.length > 0) {
    lines.push(`  pipelines: ${snapshot.pipelines.map((p) => `${p.pipeline} ${p.outcome} ${p.count}`).join(", ")}`);
  }
  if (snapshot.throttled.length > 0) {
    lines.push(`  throttled: ${snapshot.throttled.map((t) => `${t.caller} ${t.count}`).join(", ")}`);
  }
  return lines;
}

/**
 * Prints the summary every `intervalInMs` when it changed since the last print.
 * @returns a function that stops it.
 */
export function startConsoleSummary(intervalInMs: number, snapshot: () => UsageSnapshot, print: (line: string) => void): () => void {
  let last = "";
  const timer = setInterval(() => {
    const lines = formatUsageSummary(snapshot());
    const text = lines.join("\n");
    if (text === last || lines.length === 0) return;
    last = text;
    print(text);
  }, intervalInMs);
  // Never what keeps a process alive.
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The metrics the app sends (issue #25's shared contract): each OpenTelemetry instrument's name and
 * the attributes (dimensions) it carries, and the values the enumerated dimensions take. Application
 * Insights stores them in customMetrics with these names, the attributes in customDimensions. The
 * workbook and alert queries under infra/app/monitoring/ may name only these, so renaming a metric
 * or a dimension here (or there) fails a test instead of leaving an empty tile or a silent alert.
 */

export const CAPABILITIES = ["chat", "completions", "responses", "embeddings", "transcription", "speech", "images"] as const;
export const ERROR_KINDS = ["bad_input", "upstream_permanent", "throttled", "transient", "configuration", "cancelled"] as const;
export const PIPELINES = ["embeddings", "transcription", "speech", "images"] as const;

/** Values an enumerated dimension takes; dimensions not listed here take open values (callers, models, backends). */
export const DIMENSION_VALUES: Readonly<Record<string, readonly string[]>> = {
  capability: CAPABILITIES,
  outcome: ["ok", ...ERROR_KINDS, "caller_limited", "processed", "rejected", "retried", "poisoned", "given_up"],
  token_type: ["prompt", "completion", "cached", "reasoning"],
  window: ["minute", "day"],
  pipeline: PIPELINES,
};

export interface MetricContract {
  kind: "counter" | "histogram" | "gauge";
  dimensions: readonly string[];
  /** Where outcome means something else than for requests. */
  outcomes?: readonly string[];
}

export const METRICS: Readonly<Record<string, MetricContract>> = {
  "aoai.requests": {
    kind: "counter",
    dimensions: ["capability", "model", "deployment", "backend", "caller", "outcome"],
    outcomes: ["ok", ...ERROR_KINDS, "caller_limited"],
  },
  "aoai.tokens": { kind: "counter", dimensions: ["capability", "model", "deployment", "backend", "caller", "token_type"] },
  "aoai.cost": { kind: "counter", dimensions: ["capability", "model", "deployment", "backend", "caller"] },
  "aoai.time_to_first_token": { kind: "histogram", dimensions: ["capability", "model", "backend"] },
  "aoai.duration": {
    kind: "histogram",
    dimensions: ["capability", "model", "backend", "outcome"],
    outcomes: ["ok", ...ERROR_KINDS, "caller_limited"],
  },
  "aoai.throttled": { kind: "counter", dimensions: ["capability", "model", "backend", "caller"] },
  "aoai.throttle_wait": { kind: "histogram", dimensions: ["capability", "model", "backend"] },
  "aoai.failovers": { kind: "counter", dimensions: ["capability", "model", "from_backend", "reason"] },
  "aoai.quota_remaining_tokens": { kind: "gauge", dimensions: ["deployment", "backend"] },
  "aoai.caller_limit_rejections": { kind: "counter", dimensions: ["caller", "window"] },
  "pipeline.items": {
    kind: "counter",
    dimensions: ["pipeline", "outcome"],
    outcomes: ["processed", "rejected", "retried", "poisoned", "given_up"],
  },
  "pipeline.queue_age": { kind: "histogram", dimensions: ["pipeline"] },
  "transcription.audio_minutes": { kind: "counter", dimensions: ["model", "deployment", "backend", "caller"] },
};

/**
 * The OpenTelemetry instruments, by the names and dimensions operators query in Application
 * Insights (customMetrics / customDimensions) and the workbook and alerts in infra/ use. Only
 * types are imported from @opentelemetry/api here: the SDK is loaded with the exporter
 * (export.ts), off the cold start.
 *
 * Dimensions: at most 10 per metric (Azure Monitor's limit), each a name from the app's own
 * settings or a fixed word. Never a prompt, a key or any text a user sent.
 */
import type { Attributes, Counter, Gauge, Histogram, Meter } from "@opentelemetry/api";

export interface Instruments {
  requests: Counter;
  tokens: Counter;
  cost: Counter;
  timeToFirstToken: Histogram;
  duration: Histogram;
  throttled: Counter;
  throttleWait: Histogram;
  failovers: Counter;
  quotaRemainingTokens: Gauge;
  callerLimitRejections: Counter;
  pipelineItems: Counter;
  queueAge: Histogram;
  audioMinutes: Counter;
}

/** Bucket bounds for latencies and waits, in ms: from a fast first token to a long transcription. */
const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000];
/** Queue age, in ms: from at once to a day (a message waiting out a long backlog). */
const AGE_BOUNDS_MS = [100, 1000, 5000, 15000, 60000, 300000, 900000, 3600000, 14400000, 86400000];

export function createInstruments(meter: Meter, currency: string): Instruments {
  const latency = { unit: "ms", advice: { explicitBucketBoundaries: LATENCY_BOUNDS_MS } };
  return {
    requests: meter.createCounter("aoai.requests", { description: "Azure OpenAI requests, by outcome (ok or the error kind)" }),
    tokens: meter.createCounter("aoai.tokens", { unit: "{token}", description: "Tokens Azure OpenAI reported, by token_type" }),
    cost: meter.createCounter("aoai.cost", { unit: currency, description: "Estimated cost from the AI_PRICES price table" }),
    timeToFirstToken: meter.createHistogram("aoai.time_to_first_token", {
      ...latency,
      description: "Time from sending a streamed request to its first event",
    }),
    duration: meter.createHistogram("aoai.duration", { ...latency, description: "Time of one Azure OpenAI request, to its end" }),
    throttled: meter.createCounter("aoai.throttled", {
      description: "429s: from Azure OpenAI, or every backend of the model cooling down",
    }),
    throttleWait: meter.createHistogram("aoai.throttle_wait", { ...latency, description: "Time spent waiting out throttling" }),
    failovers: meter.createCounter("aoai.failovers", { description: "Calls moved on from a backend to the next" }),
    quotaRemainingTokens: meter.createGauge("aoai.quota_remaining_tokens", {
      unit: "{token}",
      description: "The last x-ratelimit-remaining-tokens a deployment reported",
    }),
    callerLimitRejections: meter.createCounter("aoai.caller_limit_rejections", {
      description: "Requests refused for a caller's token limit (CALLER_TOKEN_LIMITS)",
    }),
    pipelineItems: meter.createCounter("pipeline.items", { description: "Queue messages and blobs, by outcome" }),
    queueAge: meter.createHistogram("pipeline.queue_age", {
      unit: "ms",
      advice: { explicitBucketBoundaries: AGE_BOUNDS_MS },
      description: "Age of a message or blob when the app sees it (insertion to handling)",
    }),
    audioMinutes: meter.createCounter("transcription.audio_minutes", { unit: "min", description: "Minutes of audio transcribed" }),
  };
}

export type { Attributes };

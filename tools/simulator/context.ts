/**
 * The contract between the data plane and the operations: what a request context offers an
 * operation's answer (latency model, faults, seeded randomness, writers that keep the journal and
 * counters), what an operation's prepare step returns, and the shapes of the journal and the
 * counters that the control API reports. Operations depend on these types, not on the server.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthMode } from "./auth.js";
import type { DeploymentConfig, LatencyConfig, Operation } from "./deployments.js";
import type { ActiveFaults } from "./faults.js";
import type { Random } from "./random.js";

/** What one deployment has done since the last reset. */
export interface DeploymentCounters {
  /** Data-plane requests routed to the deployment (every attempt, retries included). */
  requests: number;
  /** Responses by HTTP status. */
  statuses: Record<string, number>;
  /** 429 answers, from the quota or from injected faults. */
  throttled: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Streams started / abandoned by the client before the end. */
  streams: number;
  abortedStreams: number;
  /** Non-streamed requests whose client went away before the answer was complete (before or after its headers). */
  abortedRequests: number;
  /** Requests that an injected fault hit. */
  faults: number;
}

export function emptyCounters(): DeploymentCounters {
  return {
    requests: 0,
    statuses: {},
    throttled: 0,
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    streams: 0,
    abortedStreams: 0,
    abortedRequests: 0,
    faults: 0,
  };
}

/** One data-plane request as the simulator saw it. */
export interface JournalEntry {
  id: number;
  /** ISO time the request arrived. */
  time: string;
  method: string;
  path: string;
  apiStyle?: "dated" | "v1";
  apiVersion?: string;
  deployment?: string;
  operation?: Operation;
  auth?: AuthMode;
  status: number;
  stream: boolean;
  durationMs: number;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  /** Azure's admission estimate charged to the token quota. */
  chargedTokens?: number;
  throttled?: "requests" | "tokens" | "fault";
  faults?: string[];
  /** The client went away before the response was complete; status 0 when it left before the headers. */
  aborted?: boolean;
  requestId: string;
  /** Selected request headers: user-agent, x-ms-client-request-id, x-stainless-retry-count. */
  headers: Record<string, string>;
  /** The JSON body; for uploads, the form fields and `file: {name, bytes, format, durationSeconds}`. */
  body?: unknown;
}

/** A deployment with its runtime state. */
export interface DeploymentState {
  config: DeploymentConfig;
  counters: DeploymentCounters;
}

/** What an operation handler gets for one admitted request. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  deployment: DeploymentConfig;
  counters: DeploymentCounters;
  operation: Operation;
  latency: LatencyConfig;
  faults: ActiveFaults;
  /** Per-request generator: from the simulator seed and the request's sequence number. */
  random: Random;
  /** Simulator seed, to derive generators from request content (the `seed` parameter). */
  seed: number;
  /** Aborted when the client goes away before the response is complete. */
  signal: AbortSignal;
  entry: JournalEntry;
  /** `http://127.0.0.1:PORT` */
  baseUrl: string;
  /** Headers every answer carries: request ids and the remaining quota. */
  headers: Record<string, string>;
  /** A latency sample around `meanMs`, from the latency model's spread. */
  sampleMs(meanMs: number): number;
  /** Waits, unless the client goes away first; resolves false then. */
  sleep(ms: number): Promise<boolean>;
  sendJson(status: number, body: unknown, headers?: Record<string, string>): void;
  sendBytes(status: number, contentType: string, bytes: Buffer | string, headers?: Record<string, string>): void;
  recordUsage(promptTokens: number, completionTokens: number): void;
  /** The `drop` fault: cut the connection now, mid-response. */
  dropConnection(): void;
}

/** The result of checking a request before admission: what Azure charges to the token quota. */
export interface Prepared {
  chargeTokens: number;
  stream?: boolean;
  /** Uploads: what the audio turned out to be, for the journal. */
  audio?: { format: string; durationSeconds: number };
  respond(ctx: RequestContext): Promise<void>;
}

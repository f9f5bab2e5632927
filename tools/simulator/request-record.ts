/**
 * The bookkeeping of one data-plane request: its journal entry, the headers every answer carries
 * (request ids), the counters it counts in (the unrouted ones until a deployment takes it), and,
 * when the response closes, its status, duration and whether the client left early, recorded
 * into the journal and counters. Tests and benchmarks read these to see what a client did.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DeploymentCounters, JournalEntry } from "./context.js";
import { FAULT_HEADER } from "./faults.js";
import type { SimulatorState } from "./state.js";
import type { MultipartBody } from "./transcription.js";

export interface RequestRecord {
  entry: JournalEntry;
  /** Headers every answer carries: request ids, then the remaining quota once charged. */
  headers: Record<string, string>;
  /** The unrouted counters until a deployment takes the request, then the deployment's. */
  counters: DeploymentCounters;
  /** Set when the simulator cut the connection on purpose (a fault), so it is not counted as the client's abort. */
  dropped: boolean;
  /** Aborted when the client goes away before the response is complete. */
  signal: AbortSignal;
}

/** Starts the record of a request; it is finished and journalled when the response closes. */
export function startRecord(state: SimulatorState, req: IncomingMessage, res: ServerResponse, url: URL): RequestRecord {
  const started = performance.now();
  const requestId = randomUUID();
  const headers: Record<string, string> = { "apim-request-id": requestId, "x-request-id": requestId, "x-ms-region": state.settings.region };
  const clientRequestId = req.headers["x-ms-client-request-id"];
  if (typeof clientRequestId === "string") headers["x-ms-client-request-id"] = clientRequestId;
  const abort = new AbortController();
  const record: RequestRecord = {
    entry: {
      id: state.nextRequestId++,
      time: new Date().toISOString(),
      method: req.method ?? "GET",
      path: url.pathname,
      status: 0,
      stream: false,
      durationMs: 0,
      requestId,
      headers: pickHeaders(req),
    },
    headers,
    counters: state.unrouted,
    dropped: false,
    signal: abort.signal,
  };

  let finalized = false;
  const finalize = () => {
    if (finalized) return;
    finalized = true;
    const { entry, counters } = record;
    entry.durationMs = Math.round((performance.now() - started) * 10) / 10;
    if (!entry.status) entry.status = res.headersSent ? res.statusCode : 0;
    // The client went away before the answer was complete: after the headers (the status sent
    // stays), or before them (status 0: nothing was answered). A cut the simulator made on purpose
    // (the reset and drop faults) is not the client's doing.
    if (!res.writableFinished && !record.dropped) {
      entry.aborted = true;
      if (entry.stream) counters.abortedStreams++;
      else counters.abortedRequests++;
    }
    // Routed requests were counted on arrival; the others only now, as unrouted.
    if (counters === state.unrouted) counters.requests++;
    counters.statuses[entry.status] = (counters.statuses[entry.status] ?? 0) + 1;
    if (entry.status === 429) counters.throttled++;
    state.record(entry);
  };
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
    finalize();
  });
  return record;
}

/** The request body as the journal keeps it: uploads without their bytes, only each file's name and size. */
export function journalBody(body: Record<string, unknown> | MultipartBody, multipart: boolean): unknown {
  if (!multipart) return body;
  const upload = body as MultipartBody;
  if (upload.file) return { ...upload.fields, file: { name: upload.file.name, bytes: upload.file.data.length } };
  if (upload.files?.length)
    return { ...upload.fields, files: upload.files.map((part) => ({ field: part.field, name: part.name, bytes: part.data.length })) };
  return { ...upload.fields };
}

function pickHeaders(req: IncomingMessage): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of ["user-agent", "x-ms-client-request-id", "x-stainless-retry-count", FAULT_HEADER]) {
    const value = req.headers[name];
    if (typeof value === "string") picked[name] = value;
  }
  return picked;
}

/**
 * Messages between the HTTP front door (its own worker thread, as the Functions host is its own
 * process on Azure) and the main thread, which runs the app and its invocations.
 */
import type { HostConfig } from "./host-config.js";
import type { KeyPolicy } from "./function-keys.js";
import type { RpcHttpData, RpcTypedData } from "./rpc-types.js";

/** An HTTP-triggered function as the front door needs it: no app objects, only data. */
export interface HttpRouteInfo {
  functionName: string;
  triggerName: string;
  template: string;
  /** Upper-case; empty means every method. */
  methods: string[];
  authLevel: string;
}

export interface FrontThreadData {
  routes: HttpRouteInfo[];
  config: HostConfig;
  keys: KeyPolicy;
  /** The library's HTTP proxy (enableHttpStream); undefined: bodies travel in the messages. */
  proxyUri: string | undefined;
  /** The main thread's server for host endpoints (`/runtime/...`, `/admin/...`). */
  runtimeUri: string;
  port: number;
}

interface InvocationMessage {
  invocationId: string;
  functionName: string;
  triggerName: string;
  http: RpcHttpData;
  triggerMetadata: Record<string, RpcTypedData>;
}

/** Front door -> main thread. */
export type FrontMessage =
  /** The request itself goes to the library's proxy; the main thread answers `finished`. */
  | ({ type: "invoke-streaming" } & InvocationMessage)
  /** The body is in `http.body`; the main thread answers `answered`. */
  | ({ type: "invoke-buffered" } & InvocationMessage)
  /** The client went away: cancel the handler's response stream. */
  | { type: "cancel"; invocationId: string; reason: string }
  | { type: "log"; message: string }
  | { type: "listening"; port: number }
  | { type: "failed"; message: string };

/** What the main thread sends back for a buffered invocation: the response, if any. */
export interface BufferedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Main thread -> front door. */
export type MainMessage =
  | { type: "finished"; invocationId: string; succeeded: boolean }
  | { type: "answered"; invocationId: string; answer: BufferedAnswer | null; succeeded: boolean }
  | { type: "close" };

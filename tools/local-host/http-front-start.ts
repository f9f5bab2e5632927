/**
 * Starts the host's HTTP front door from the main thread: the worker thread of
 * http-front-thread.ts, with the routes and settings it needs, answered by the main thread's
 * invocations (http-invocations.ts). Resolves once the front door listens, with the port it got,
 * so the host announces itself ready only when it can take requests.
 */
import { Worker } from "node:worker_threads";
import type { FrontThreadData } from "./http-front-protocol.js";
import { serveHttpInvocations, type HttpInvocationDeps } from "./http-invocations.js";

/**
 * @param script the front door's script (http-front-thread, beside the host process's own file).
 * @param onFailure called when the thread fails after it started listening (the host cannot serve without it).
 * @throws Error when the thread fails to listen (the port is taken, say) or stops before it listens.
 */
export async function startHttpFrontDoor(
  script: URL,
  threadData: FrontThreadData,
  invocationDeps: HttpInvocationDeps,
  hostLog: (message: string) => void,
  onFailure: () => void,
): Promise<{ front: Worker; port: number }> {
  const front = new Worker(script, { workerData: threadData });
  const port = await new Promise<number>((resolve, reject) => {
    serveHttpInvocations(front, invocationDeps, { onReady: resolve, onFailed: (message) => reject(new Error(message)) });
    front.once("error", reject);
    front.once("exit", (code) => reject(new Error(`The HTTP front door stopped before it listened (exit code ${code}).`)));
  });
  front.on("error", (error) => {
    // Without its front door the host serves nothing: say why and stop.
    hostLog(`The HTTP front door failed: ${error.stack ?? error.message}`);
    onFailure();
  });
  return { front, port };
}

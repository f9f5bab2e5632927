/**
 * The main thread's half of the HTTP trigger: the front door (its own thread) asks for
 * invocations; they run here, where the app lives, through the library's programming model.
 */
import type { Worker } from "node:worker_threads";
import { makeBodyCancellable } from "./cancellable-body.js";
import type { CoreRegistry, RegisteredFunction } from "./core-api.js";
import type { BufferedAnswer, FrontMessage, HttpRouteInfo, MainMessage } from "./http-front-protocol.js";
import { invokeFunction, type InvocationLogger } from "./invoke.js";
import type { ProxyTracker } from "./proxy-tracker.js";
import type { RpcInvocationResponse } from "./rpc-types.js";

/** The HTTP-triggered functions, as data the front door can route with. */
export function collectHttpRoutes(registry: CoreRegistry): HttpRouteInfo[] {
  const routes: HttpRouteInfo[] = [];
  for (const fn of registry.functions.values()) {
    for (const [triggerName, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.type?.toLowerCase() !== "httptrigger") continue;
      routes.push({
        functionName: fn.metadata.name,
        triggerName,
        template: typeof binding.route === "string" && binding.route !== "" ? binding.route : fn.metadata.name,
        methods: Array.isArray(binding.methods) ? binding.methods.map((method) => String(method).toUpperCase()) : [],
        authLevel: typeof binding.authLevel === "string" ? binding.authLevel : "anonymous",
      });
    }
  }
  return routes;
}

export interface HttpInvocationDeps {
  registry: CoreRegistry;
  proxyTracker: ProxyTracker | undefined;
  log: InvocationLogger;
  hostLog: (message: string) => void;
}

/**
 * Serves the front door's requests until the thread ends. `onReady` gets the port it listens on,
 * `onFailed` its reason when it cannot start.
 */
export function serveHttpInvocations(
  front: Worker,
  deps: HttpInvocationDeps,
  events: { onReady: (port: number) => void; onFailed: (message: string) => void },
): void {
  // Cancels of the handlers' response streams, by invocation, while their invocation runs.
  const cancels = new Map<string, (reason: Error) => void>();
  // Invocations whose client left before the response was complete, with why; only while they run.
  const disconnected = new Map<string, Error>();
  const running = new Set<string>();
  const reply = (message: MainMessage) => front.postMessage(message);

  front.on("message", (message: FrontMessage) => {
    switch (message.type) {
      case "invoke-streaming":
        running.add(message.invocationId);
        void invokeStreaming(message, deps, cancels, disconnected).then((succeeded) => {
          running.delete(message.invocationId);
          disconnected.delete(message.invocationId);
          reply({ type: "finished", invocationId: message.invocationId, succeeded });
        });
        return;
      case "invoke-buffered":
        void invokeBuffered(message, deps).then(
          (answer) => reply({ type: "answered", invocationId: message.invocationId, answer, succeeded: true }),
          () => reply({ type: "answered", invocationId: message.invocationId, answer: null, succeeded: false }),
        );
        return;
      case "cancel": {
        // A cancel after the invocation ended (the client closed once the answer was complete) has nothing to mark.
        if (!running.has(message.invocationId)) return;
        const reason = new Error(message.reason);
        disconnected.set(message.invocationId, reason);
        cancels.get(message.invocationId)?.(reason);
        return;
      }
      case "log":
        deps.hostLog(message.message);
        return;
      case "listening":
        events.onReady(message.port);
        return;
      case "failed":
        events.onFailed(message.message);
        return;
    }
  });
}

function functionNamed(registry: CoreRegistry, name: string): RegisteredFunction {
  for (const fn of registry.functions.values()) if (fn.metadata.name === name) return fn;
  throw new Error(`No function named "${name}" is registered.`);
}

type Invocation = Extract<FrontMessage, { type: "invoke-streaming" | "invoke-buffered" }>;

async function invokeStreaming(
  message: Invocation,
  deps: HttpInvocationDeps,
  cancels: Map<string, (reason: Error) => void>,
  disconnected: Map<string, Error>,
): Promise<boolean> {
  const { invocationId } = message;
  try {
    await invokeFunction(
      deps.registry,
      functionNamed(deps.registry, message.functionName),
      {
        invocationId,
        inputData: [{ name: message.triggerName, data: { http: message.http } }],
        triggerMetadata: message.triggerMetadata,
        adaptResult: (result) => {
          const cancellable = makeBodyCancellable(result);
          cancels.set(invocationId, cancellable.cancel);
          return cancellable.result;
        },
        // A client that left mid-response fails the invocation, whichever of the stream's end and
        // the broken write the library saw first: Azure's host reports these as Failed too
        // (azure-functions-nodejs-library issue 294).
        failureBeside: () => disconnected.get(invocationId),
      },
      deps.log,
    );
    // A handler that returned nothing left the proxied request open: the host ends it with 204.
    deps.proxyTracker?.finishUnanswered(invocationId, 204);
    return true;
  } catch {
    // Logged by invokeFunction.
    deps.proxyTracker?.finishUnanswered(invocationId, 500);
    return false;
  } finally {
    cancels.delete(invocationId);
  }
}

/** @throws the invocation's failure (logged by invokeFunction). */
async function invokeBuffered(message: Invocation, deps: HttpInvocationDeps): Promise<BufferedAnswer | null> {
  const fn = functionNamed(deps.registry, message.functionName);
  const { response } = await invokeFunction(
    deps.registry,
    fn,
    {
      invocationId: message.invocationId,
      inputData: [{ name: message.triggerName, data: { http: message.http } }],
      triggerMetadata: message.triggerMetadata,
    },
    deps.log,
  );
  return httpAnswer(fn, response);
}

function httpAnswer(fn: RegisteredFunction, response: RpcInvocationResponse): BufferedAnswer | null {
  const httpBindingName = Object.entries(fn.metadata.bindings).find(
    ([, binding]) => binding.direction === "out" && binding.type?.toLowerCase() === "http",
  )?.[0];
  const data =
    httpBindingName === "$return" ? response.returnValue : response.outputData?.find((output) => output.name === httpBindingName)?.data;
  const out = data?.http;
  if (!out) return null;
  const body = out.body?.bytes ? Buffer.from(out.body.bytes) : Buffer.from(out.body?.string ?? out.body?.json ?? "", "utf8");
  return { status: Number(out.statusCode ?? 200), headers: { ...(out.headers ?? {}) }, body };
}

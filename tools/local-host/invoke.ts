/**
 * One function invocation, run the way the Azure Functions Node worker runs it: through the
 * library's own InvocationModel (argument and response conversion), with the pre- and
 * post-invocation hooks and the host's "Executing"/"Executed" log lines. Every trigger of the
 * local host invokes through here, so the app sees exactly what it would see on Azure.
 */
import { randomUUID } from "node:crypto";
import { runHooks, type CoreRegistry, type RegisteredFunction } from "./core-api.js";
import type {
  CoreInvocationContext,
  ProgrammingModel,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
  RpcParameterBinding,
  RpcTypedData,
} from "./rpc-types.js";

export interface InvocationInput {
  invocationId?: string;
  inputData: RpcParameterBinding[];
  triggerMetadata: Record<string, RpcTypedData>;
  /** Shown in the "Executing" log line, as the host does (e.g. "New queue message detected"). */
  reason?: string;
  /** Lets the HTTP path watch the handler's result before the library converts it. */
  adaptResult?: (result: unknown) => unknown;
  /** Asked once the run returns: a failure that happened beside it (the HTTP client left mid-response). */
  failureBeside?: () => Error | undefined;
}

export interface InvocationOutcome {
  invocationId: string;
  response: RpcInvocationResponse;
}

export type InvocationLogger = (
  fn: RegisteredFunction,
  invocationId: string,
  level: RpcLogLevel,
  category: RpcLogCategory,
  message: string,
) => void;

/**
 * Runs one invocation the way the Node worker does: the library's InvocationModel converts the
 * RPC request (getArguments), then pre-invocation hooks, the handler (invokeFunction),
 * post-invocation hooks and the library's response conversion (getResponse).
 * @throws the handler's error (possibly replaced by a post-invocation hook), or a conversion error.
 */
export async function invokeFunction(
  registry: CoreRegistry,
  fn: RegisteredFunction,
  input: InvocationInput,
  log: InvocationLogger,
): Promise<InvocationOutcome> {
  const model = registry.programmingModel;
  if (!model) {
    throw new Error("The app registered functions without a programming model; is @azure/functions v4 installed?");
  }
  const invocationId = input.invocationId ?? randomUUID();
  const coreContext: CoreInvocationContext = {
    invocationId,
    request: {
      invocationId,
      functionId: fn.functionId,
      inputData: input.inputData,
      triggerMetadata: input.triggerMetadata,
    },
    metadata: { ...fn.metadata, functionId: fn.functionId },
    log: (level, category, message) => log(fn, invocationId, level, category, message),
  };
  const startedAt = performance.now();
  log(
    fn,
    invocationId,
    "information",
    "system",
    `Executing '${fn.functionId}' (Reason='${input.reason ?? "trigger"}', Id=${invocationId})`,
  );
  try {
    const response = await runThroughModel(registry, model, fn, coreContext, input.adaptResult);
    const beside = input.failureBeside?.();
    if (beside) throw beside;
    const durationMs = Math.round(performance.now() - startedAt);
    log(fn, invocationId, "information", "system", `Executed '${fn.functionId}' (Succeeded, Id=${invocationId}, Duration=${durationMs}ms)`);
    return { invocationId, response };
  } catch (error) {
    const durationMs = Math.round(performance.now() - startedAt);
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(
      fn,
      invocationId,
      "error",
      "system",
      `Executed '${fn.functionId}' (Failed, Id=${invocationId}, Duration=${durationMs}ms): ${detail}`,
    );
    throw error;
  }
}

async function runThroughModel(
  registry: CoreRegistry,
  model: ProgrammingModel,
  fn: RegisteredFunction,
  coreContext: CoreInvocationContext,
  adaptResult: ((result: unknown) => unknown) | undefined,
): Promise<RpcInvocationResponse> {
  const invocationModel = model.getInvocationModel(coreContext);
  const { context, inputs } = await invocationModel.getArguments();

  // One hookData object per invocation, shared by its pre and post hooks (as in the worker).
  const hookData: Record<string, unknown> = {};
  const preContext: Record<string, unknown> = {
    hookData,
    appHookData: registry.appHookData,
    invocationContext: context,
    functionCallback: fn.callback,
    inputs,
  };
  coreContext.state = "preInvocationHooks";
  await runHooks(registry, "preInvocation", preContext);

  coreContext.state = "invocation";
  let result: unknown;
  let error: unknown;
  try {
    result = await invocationModel.invokeFunction(
      context,
      preContext.inputs as unknown[],
      preContext.functionCallback as (...args: unknown[]) => unknown,
    );
  } catch (caught) {
    error = caught;
  }

  const postContext: Record<string, unknown> = {
    hookData,
    appHookData: registry.appHookData,
    invocationContext: context,
    inputs: preContext.inputs,
    result,
    error,
  };
  coreContext.state = "postInvocationHooks";
  try {
    await runHooks(registry, "postInvocation", postContext);
  } finally {
    coreContext.state = undefined;
  }
  if (postContext.error !== undefined && postContext.error !== null) throw postContext.error;

  const finalResult = adaptResult ? adaptResult(postContext.result) : postContext.result;
  return invocationModel.getResponse(context, finalResult);
}

/** Wraps a string the way the host sends string trigger metadata. */
export function rpcString(value: string): RpcTypedData {
  return { string: value };
}

/** Wraps any JSON value the way the host sends object-valued trigger metadata. */
export function rpcJson(value: unknown): RpcTypedData {
  return { json: JSON.stringify(value) };
}

/** The `sys` metadata every invocation carries on the real host. */
export function systemMetadata(functionName: string): RpcTypedData {
  return rpcJson({ MethodName: functionName, UtcNow: new Date().toISOString(), RandGuid: randomUUID() });
}

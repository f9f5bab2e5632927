/**
 * The host's side of `@azure/functions-core`: the module the Node worker injects, through which
 * `@azure/functions` registers the app's functions, its programming model and its hooks, and logs.
 * The local host serves this object (install-core-module.ts) and keeps what the app registers in
 * a CoreRegistry, its only table of functions; hooks run in registration order, as in the worker.
 */
import type {
  Disposable,
  FunctionCallback,
  FunctionMetadata,
  HookCallback,
  ProgrammingModel,
  RpcLogCategory,
  RpcLogLevel,
} from "./rpc-types.js";

/** One function as the app registered it through `@azure/functions` (the only registration table). */
export interface RegisteredFunction {
  /** `Host.Functions.NAME`, the id the real host uses in receipts and webhooks. */
  functionId: string;
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export type HookName = "appStart" | "appTerminate" | "preInvocation" | "postInvocation" | "log";

/** What the app registered while loading: filled by the served `@azure/functions-core` module. */
export interface CoreRegistry {
  functions: Map<string, RegisteredFunction>;
  hooks: Map<HookName, HookCallback[]>;
  programmingModel?: ProgrammingModel;
  /** Shared across all app-level hooks, as the worker shares it. */
  appHookData: Record<string, unknown>;
}

export type LogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

/**
 * Builds the object served as `@azure/functions-core`: the API the Node worker injects and
 * `@azure/functions` registers through (registerFunction, setProgrammingModel, registerHook, log).
 */
export function createCoreApi(registry: CoreRegistry, logSink: LogSink): Record<string, unknown> {
  const disposable = (onDispose: () => void): Disposable => ({ dispose: onDispose });
  return {
    // The library only checks that these exist (log was added with HTTP streaming, host 4.28+).
    version: "3.10.1-local",
    hostVersion: "4.1040.0-local",
    setProgrammingModel(model: ProgrammingModel): void {
      registry.programmingModel = model;
    },
    getProgrammingModel(): ProgrammingModel | undefined {
      return registry.programmingModel;
    },
    registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
      const key = metadata.name.toLowerCase();
      if (registry.functions.has(key)) {
        throw new Error(`A function named "${metadata.name}" is already registered; function names must be unique.`);
      }
      registry.functions.set(key, { functionId: `Host.Functions.${metadata.name}`, metadata, callback });
      return disposable(() => registry.functions.delete(key));
    },
    registerHook(hookName: string, callback: HookCallback): Disposable {
      if (!isHookName(hookName)) {
        // Same failure mode as the worker: the library maps RangeError to a clear message.
        const error = new RangeError(`Unrecognized hook "${hookName}"`) as RangeError & {
          isAzureFunctionsSystemError?: boolean;
        };
        error.isAzureFunctionsSystemError = true;
        throw error;
      }
      const list = registry.hooks.get(hookName) ?? [];
      list.push(callback);
      registry.hooks.set(hookName, list);
      return disposable(() => {
        const index = list.indexOf(callback);
        if (index >= 0) list.splice(index, 1);
      });
    },
    log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
      logSink(level, category, message);
    },
  };
}

function isHookName(name: string): name is HookName {
  return ["appStart", "appTerminate", "preInvocation", "postInvocation", "log"].includes(name);
}

/** Runs hooks in registration order, awaiting each (the worker does the same). */
export async function runHooks(registry: CoreRegistry, name: HookName, context: Record<string, unknown>): Promise<void> {
  for (const hook of [...(registry.hooks.get(name) ?? [])]) {
    await hook(context);
  }
}

export function createRegistry(): CoreRegistry {
  return { functions: new Map(), hooks: new Map(), appHookData: {} };
}

import type { HttpRequest, InvocationContext } from "@azure/functions";
import { getProcessConfig } from "../config.js";
import { callerOf } from "../http/caller.js";
import { callerGoneSignal } from "../http/client-disconnect.js";
import { knownSecrets } from "../http/known-secrets.js";
import { createOutlivingLogger, createSafeLogger, type Logger } from "../logging.js";

/**
 * What every OpenAI-compatible HTTP handler starts with: the secrets to mask, a logger that masks
 * them, and the signal that fires when the caller hangs up (claimed first thing, so a caller who
 * leaves while the body is read is noticed too).
 */
export interface HttpInvocation {
  secrets: readonly string[];
  logger: Logger;
  callerGone: AbortSignal;
  /** Who calls (src/http/caller.ts): the `caller` dimension of its metrics, and whose token limit applies. */
  caller: string;
  /** Call when the handler returns (in `finally`): an outliving logger then writes to the host log. */
  end(): void;
}

/**
 * @param outliving true when the answer is a stream that keeps logging (usage, errors) after the
 *   handler has returned: the invocation's logger would be closed by then.
 */
export function startHttpInvocation(context: InvocationContext, request: HttpRequest, outliving = false): HttpInvocation {
  const secrets = knownSecrets();
  const callerGone = callerGoneSignal(context.invocationId);
  const caller = callerOf(request, getProcessConfig().http.callers);
  if (!outliving) return { secrets, logger: createSafeLogger(context, secrets), callerGone, caller, end: () => undefined };
  const invocationLogger = createOutlivingLogger(context, context.invocationId);
  return { secrets, logger: createSafeLogger(invocationLogger, secrets), callerGone, caller, end: () => invocationLogger.detach() };
}

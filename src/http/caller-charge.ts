/**
 * The per-caller token limits' entry for an OpenAI-compatible HTTP handler: reserves the request's estimate (src/caller-limits/), after the request
 * was validated (bad input is answered 400 without charging anyone) and before the upstream call.
 */
import type { Config } from "../config.js";
import { classifyError } from "../errors.js";
import { getCallerLimiter } from "../caller-limits/process-limiter.js";
import { chargeCaller, type RequestCharge } from "../caller-limits/request-charge.js";
import type { Logger } from "../logging.js";
import { tokenCounterLoaded, type TokenEstimate } from "../routing/token-estimate.js";
import { refusedWindow } from "../caller-limits/caller-limiter.js";
import { recordCallerLimitRejection } from "../metrics/index.js";
import type { Route } from "../routing/router.js";

/**
 * @param caller the request's caller (src/http/caller.ts), charged for the request.
 * @param route what is asked, for the metric of a refusal.
 * @param estimate made only when the caller is limited; counted by the tokenizer (loaded first if need be).
 * @throws AppError `throttled` (caller_token_limit_exceeded) when the caller is over a limit; never
 *   for a store that cannot be reached or set up (the request goes ahead unlimited, logged).
 */
export async function chargeRequestCaller(
  caller: string,
  route: Pick<Route, "capability" | "model">,
  config: Config,
  estimate: () => TokenEstimate,
  logger: Logger,
): Promise<RequestCharge> {
  const limiter = await getCallerLimiter(config).catch((error: unknown) => {
    // As for a store that cannot be reached (src/caller-limits/request-charge.ts): limits protect
    // a budget, and their storage's trouble should not take the API down with it.
    logger.error(`Per-caller token limits could not be set up (${classifyError(error).message}); the request goes ahead unlimited`);
    return undefined;
  });
  return chargeCaller(
    limiter,
    caller,
    async () => {
      await tokenCounterLoaded();
      return estimate().exact();
    },
    logger,
  ).catch((error: unknown) => {
    const window = refusedWindow(error);
    if (window) recordCallerLimitRejection({ caller, window, capability: route.capability, model: route.model });
    throw error;
  });
}

import OpenAI from "openai";
import { startStack, type Stack } from "../support/stack.js";

/** The function key the HTTP tests send; keys are enforced as in Azure. */
export const FUNCTION_KEY = "test-function-key-0123456789";

/**
 * The app behind the local host with function keys enforced, a 64 KiB body cap and a 2 s stream idle limit, and the
 * official `openai` client configured as an app would configure it (no retries, to see each answer).
 */
export async function startKeyedStack(): Promise<{ stack: Stack; client: OpenAI }> {
  const stack = await startStack({
    // A short idle limit so a stalled stream's end is seen in seconds (the default is 60 s).
    env: { HTTP_MAX_REQUEST_BYTES: "65536", HTTP_STREAM_IDLE_TIMEOUT_MS: "2000" },
    host: { enforceKeys: true, keys: { default: FUNCTION_KEY } },
  });
  const client = new OpenAI({
    baseURL: `${stack.host.url}/api/v1`,
    apiKey: "unused",
    defaultHeaders: { "x-functions-key": FUNCTION_KEY },
    maxRetries: 0,
  });
  return { stack, client };
}

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { openChatStream, completeChat, type ChatDependencies } from "../chat/chat-service.js";
import { getProcessConfig } from "../config.js";
import { callerGoneSignal, watchCallerDisconnects } from "../http/client-disconnect.js";
import { describeError } from "../http/error-response.js";
import { knownSecrets } from "../http/known-secrets.js";
import { readJsonObject } from "../http/request-body.js";
import { jsonResponse, sseHeaders } from "../http/responses.js";
import { createSseStream } from "../http/sse.js";
import { createOutlivingLogger, createSafeLogger, type Logger } from "../logging.js";
import { getOpenAIClient } from "../openai/client.js";

/**
 * Idle time before a keep-alive comment: well under the idle timeouts of common proxies and load
 * balancers (60 s and more, Azure's front end 230 s).
 */
export const SSE_KEEP_ALIVE_IN_MS = 15_000;

/**
 * How long we wait for Azure to accept a streamed request before committing to a 200 event stream.
 * Azure's refusals (429, 400 content filter, 401/403) arrive well within it and keep their status
 * codes; a slower start gets the headers and a first keep-alive comment now, so the caller (and any
 * proxy between) sees bytes early, and a later failure arrives as the stream's error event.
 */
export const STREAM_COMMIT_DEADLINE_IN_MS = 1_000;

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

/**
 * POST /api/v1/chat/completions: OpenAI's chat completions, streamed (SSE) or not, served by the
 * configured Azure OpenAI chat deployment. Every failure is answered in OpenAI's error shape.
 */
export async function chatCompletions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const secrets = knownSecrets();
  // A streamed body keeps logging (usage, errors) after this handler has returned.
  const invocationLogger = createOutlivingLogger(context, context.invocationId);
  const logger = createSafeLogger(invocationLogger, secrets);
  // Claimed first, so a caller who hangs up while the body is read is noticed too.
  const callerGone = callerGoneSignal(context.invocationId);
  try {
    const config = getProcessConfig();
    // Loaded on first use: the validator pulls in zod, which would otherwise slow every cold start.
    const { parseChatRequest } = await import("../http/chat-request.js");
    const chatRequest = parseChatRequest(await readJsonObject(request, config.http.maxRequestBytes), [config.openai.deployments.chat]);
    // Upstream work stops when the caller hangs up, or when the runtime stops reading our stream.
    const stopReading = new AbortController();
    const signal = AbortSignal.any([callerGone, stopReading.signal]);
    const deps: ChatDependencies = {
      client: await getOpenAIClient(config.openai),
      logger,
      streamIdleTimeoutInMs: config.http.streamIdleTimeoutInMs,
    };
    if (!chatRequest.stream) return jsonResponse(200, await completeChat(deps, chatRequest, signal));
    return await streamResponse(openChatStream(deps, chatRequest, signal), () => stopReading.abort(), logger, secrets);
  } catch (error) {
    return answerError(error, logger, secrets);
  } finally {
    invocationLogger.detach();
  }
}

/**
 * Waits (up to STREAM_COMMIT_DEADLINE_IN_MS) for Azure to accept the request, so that a refusal
 * still gets its status code (429, 400...); then sends 200 and the events as they arrive.
 */
async function streamResponse(
  opening: Promise<AsyncIterable<unknown>>,
  onCancel: () => void,
  logger: Logger,
  secrets: readonly string[],
): Promise<HttpResponseInit> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<"slow">((resolve) => (timer = setTimeout(() => resolve("slow"), STREAM_COMMIT_DEADLINE_IN_MS)));
  let outcome;
  try {
    // Rejects here (-> JSON error with status) when Azure refuses before the deadline.
    outcome = await Promise.race([opening, slow]);
  } finally {
    clearTimeout(timer);
  }
  const body = createSseStream({
    // Usually Azure has answered by now: its chunks are passed on as they are. Otherwise the
    // stream starts with a keep-alive and waits for them.
    events:
      outcome === "slow"
        ? (async function* () {
            yield* await opening;
          })()
        : outcome,
    keepAliveInMs: SSE_KEEP_ALIVE_IN_MS,
    keepAliveAtStart: outcome === "slow",
    describeError: (error) => {
      const answer = describeError(error, secrets);
      if (answer.error.kind === "cancelled") logger.info("Chat stream cancelled: the caller disconnected");
      else logger.warn(`Chat stream ended with an error event (${answer.status}): ${answer.error.message}`);
      return answer.body;
    },
    onCancel,
  });
  return { status: 200, headers: sseHeaders(), body };
}

function answerError(error: unknown, logger: Logger, secrets: readonly string[]): HttpResponseInit {
  const answer = describeError(error, secrets);
  // Nobody reads this answer when the caller left; that is not the app's failure.
  if (answer.error.kind === "cancelled") logger.info("Chat completion cancelled: the caller disconnected");
  else if (answer.status >= 500) logger.error(`Chat completion failed (${answer.status}): ${answer.error.message}`);
  else logger.warn(`Chat completion refused (${answer.status}): ${answer.error.message}`);
  return jsonResponse(answer.status, answer.body, answer.headers);
}

app.http("chat-completions", {
  route: "v1/chat/completions",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: chatCompletions,
});

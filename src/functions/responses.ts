import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { getProcessConfig } from "../config.js";
import { startHttpInvocation } from "./http-invocation.js";
import { BadInputError, classifyError, type AppError } from "../errors.js";
import { watchCallerDisconnects } from "../http/client-disconnect.js";
import { readJsonObject } from "../http/request-body.js";
import { jsonResponse } from "../http/responses.js";
import { encodeSseEvent } from "../http/sse.js";
import { answerError, type ErrorAnswer } from "../http/error-response.js";
import { streamAnswer } from "../http/stream-response.js";
import type { ResponsesRequest } from "../responses/responses-request.js";
import type { ResponsesDependencies } from "../responses/responses-service.js";
import { modelsFor } from "../routing/models.js";
import { resourcesOf } from "../routing/table.js";
import type { Backend, Target } from "../routing/index.js";
import { openedAtFirstEvent } from "../routing/first-event.js";
import { backendHeader } from "../routing/http.js";
import { responsesTokenEstimate } from "../caller-limits/request-estimates.js";
import { chargeRequestCaller } from "../http/caller-charge.js";

// Start watching for callers that hang up before the first request can arrive.
watchCallerDisconnects();

const LABEL = "Response";

/**
 * POST /api/v1/responses: OpenAI's Responses API, streamed (SSE, typed events) or not, served by
 * the configured Azure OpenAI chat deployment. Every failure is answered in OpenAI's error shape;
 * one after the stream started ends it with an `error` event in the Responses format.
 */
export async function createResponseHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // The answer may be a stream that keeps logging (usage, errors) after this handler has returned.
  const { secrets, logger, callerGone, caller, end } = startHttpInvocation(context, request, true);
  try {
    const config = getProcessConfig();
    // Loaded on first use, as for chat: the validator pulls in zod.
    const [{ parseResponsesRequest }, service] = await Promise.all([
      import("../responses/responses-request.js"),
      import("../responses/responses-service.js"),
    ]);
    const parsed = parseResponsesRequest(await readJsonObject(request, config.http.maxRequestBytes), modelsFor(config.openai, "responses"));
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const route = router.route("responses", parsed.deployment);
    const charge = await chargeRequestCaller(caller, route, config, () => responsesTokenEstimate(parsed.body), logger);
    // Upstream work stops when the caller hangs up, or when the runtime stops reading our stream.
    const stopReading = new AbortController();
    const signal = AbortSignal.any([callerGone, stopReading.signal]);
    const run = {
      logger,
      signal,
      caller,
      // A stored response lives on the resource that made it: another backend may hold the one named.
      ...(parsed.body.previous_response_id ? { alsoMovesOn: isNotFound } : {}),
    };
    const on = (target: Target): [ResponsesDependencies, ResponsesRequest] => [
      {
        client: target.client,
        logger: target.logger,
        streamIdleTimeoutInMs: config.http.streamIdleTimeoutInMs,
        apiVersion: service.responsesApiVersion(target.backend),
        onUsage: charge.onUsage,
      },
      { ...parsed, deployment: target.backend.deployment },
    ];
    if (!parsed.stream) {
      const answered = await router
        .run(route, run, (target) => service.createResponse(...on(target), signal))
        .finally(() => charge.settle());
      return jsonResponse(200, answered.value, { ...backendHeader(answered.backend), ...charge.headers() });
    }
    // The error event continues the stream's numbering.
    let lastSequenceNumber = -1;
    let backend: Backend | undefined;
    const opening = router
      .run(route, run, (target) => openedAtFirstEvent(service.openResponseStream(...on(target), signal), config.openai.timeoutInMs))
      .then(
        (routed) => {
          backend = routed.backend;
          return charge.settledWhenDone(
            (async function* () {
              for await (const event of routed.value) {
                lastSequenceNumber = event.sequence_number ?? lastSequenceNumber;
                yield event;
              }
            })(),
          );
        },
        (error: unknown) => charge.settle().then(() => Promise.reject(error as Error)),
      );
    return await streamAnswer(opening, {
      label: LABEL,
      logger,
      secrets,
      onCancel: () => stopReading.abort(),
      encode: (event) => encodeSseEvent(event as { type: string }),
      endMarker: null,
      errorEvent: (answer) => responsesErrorEvent(answer, lastSequenceNumber + 1),
      answerHeaders: () => ({ ...(backend ? backendHeader(backend) : {}), ...charge.headers() }),
    });
  } catch (error) {
    return answerError(error, LABEL, logger, secrets);
  } finally {
    end();
  }
}

/** Azure's 404 for a stored response it does not hold. */
function isNotFound(failure: AppError): boolean {
  return failure.kind === "upstream_permanent" && failure.status === 404;
}

/** OpenAI's `error` event of the Responses API for a failure after the stream began. */
function responsesErrorEvent(answer: ErrorAnswer, sequenceNumber: number): ResponseStreamEvent {
  const { message, code, param } = answer.body.error;
  return { type: "error", code: code ?? answer.body.error.type, message, param, sequence_number: sequenceNumber };
}

/**
 * GET and DELETE /api/v1/responses/{id}, GET /api/v1/responses/{id}/input_items: a stored
 * response, its removal, and the items it was given, passed on as Azure answers them.
 */
export function responseByIdHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return forwardById(request, context, false);
}

export function responseInputItemsHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return forwardById(request, context, true);
}

async function forwardById(request: HttpRequest, context: InvocationContext, inputItems: boolean): Promise<HttpResponseInit> {
  const { secrets, logger, callerGone } = startHttpInvocation(context, request);
  try {
    const config = getProcessConfig();
    const [{ parseResponseId }, service] = await Promise.all([
      import("../responses/responses-request.js"),
      import("../responses/responses-service.js"),
    ]);
    const id = parseResponseId(request.params.id);
    const method = request.method.toUpperCase() === "DELETE" ? "delete" : "get";
    const call = {
      method,
      path: `/responses/${encodeURIComponent(id)}${inputItems ? "/input_items" : ""}`,
      query: inputItems ? inputItemsQuery(request) : {},
    } as const;
    // The id names no model, and a stored response lives on the resource that made it: ask each
    // resource serving Responses in turn until one has it.
    const router = (await import("../routing/index.js")).getRouter(config.openai);
    const resources = resourcesOf(router.table, "responses");
    if (resources.length === 0) {
      throw new BadInputError("No model here serves the Responses API (GET /api/v1/models lists the models)", { code: "model_not_found" });
    }
    let answer;
    // The first failure that is not "I do not have it" is the answer when no resource has the id:
    // a resource that was down may be the one holding it, so the caller should try again.
    let otherFailure: unknown;
    let notFound: unknown;
    for (const backend of resources) {
      const deps: ResponsesDependencies = {
        client: await router.clientOf(backend),
        logger,
        apiVersion: service.responsesApiVersion(backend),
      };
      try {
        answer = await service.forwardResponseRequest(deps, call, callerGone);
        break;
      } catch (error) {
        if (callerGone.aborted) throw error;
        if (isNotFound(classifyError(error))) notFound ??= error;
        else otherFailure ??= error;
      }
    }
    if (!answer) throw otherFailure ?? notFound;
    return {
      status: answer.status,
      headers: { "content-type": answer.contentType ?? "application/json", "cache-control": "no-store" },
      body: answer.body,
    };
  } catch (error) {
    return answerError(error, LABEL, logger, secrets);
  }
}

/**
 * The list options OpenAI defines for input items, checked before they are passed on.
 * @throws BadInputError naming the query parameter at fault.
 */
function inputItemsQuery(request: HttpRequest): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  const limit = request.query.get("limit");
  if (limit !== null) {
    const value = Number(limit);
    if (!Number.isInteger(value) || value < 1 || value > 100) {
      throw new BadInputError(`'limit' must be an integer from 1 to 100 (got "${limit}")`, { param: "limit", code: "invalid_value" });
    }
    query.limit = value;
  }
  const order = request.query.get("order");
  if (order !== null) {
    if (order !== "asc" && order !== "desc") {
      throw new BadInputError(`'order' must be asc or desc (got "${order}")`, { param: "order", code: "invalid_value" });
    }
    query.order = order;
  }
  const after = request.query.get("after");
  if (after !== null) query.after = after;
  const include = [...request.query.getAll("include"), ...request.query.getAll("include[]")];
  if (include.length > 0) query.include = include;
  return query;
}

app.http("responses-create", {
  route: "v1/responses",
  methods: ["POST"],
  authLevel: getProcessConfig().http.authLevel,
  handler: createResponseHttp,
});

app.http("responses-by-id", {
  route: "v1/responses/{id}",
  methods: ["GET", "DELETE"],
  authLevel: getProcessConfig().http.authLevel,
  handler: responseByIdHttp,
});

app.http("responses-input-items", {
  route: "v1/responses/{id}/input_items",
  methods: ["GET"],
  authLevel: getProcessConfig().http.authLevel,
  handler: responseInputItemsHttp,
});

import type { OpenAI } from "openai";
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from "openai/resources/embeddings";
import type { Logger } from "../logging.js";
import { loggedCall, type CallDescription } from "../openai/call-log.js";
import type { EmbeddingsRequest } from "./embeddings-request.js";

/**
 * One synchronous embeddings request, forwarded as one Azure OpenAI call and answered as Azure
 * answered it (so `encoding_format: "base64"`, the `openai` client's default, stays byte-exact).
 * Unlike the queue pipeline, throttling is not waited out here: the caller gets 429 with
 * `Retry-After` at once and decides (one attempt, for the same reason as chat).
 * @throws the client's error (APIError, APIConnectionError, APIUserAbortError); classify it with classifyError.
 */
export async function createEmbeddings(
  deps: { client: OpenAI; logger: Logger; onUsage?: CallDescription["onUsage"] },
  request: EmbeddingsRequest,
  signal: AbortSignal,
): Promise<CreateEmbeddingResponse> {
  const params: EmbeddingCreateParams = { model: request.deployment, input: request.input };
  if (request.encodingFormat) params.encoding_format = request.encodingFormat;
  if (request.dimensions !== undefined) params.dimensions = request.dimensions;
  if (request.user !== undefined) params.user = request.user;
  return loggedCall(
    deps.logger,
    { operation: "embeddings", deployment: request.deployment, onUsage: deps.onUsage },
    () => deps.client.embeddings.create(params, { signal }).withResponse(),
    (data) => ({ promptTokens: data.usage?.prompt_tokens }),
  );
}

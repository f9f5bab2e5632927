/**
 * The responses the Responses API keeps (`store`, the default): each response object with its
 * own input items and a link to the response it continued, so `previous_response_id` can rebuild
 * a conversation and GET /responses/{id} and /input_items can answer. In memory, the latest
 * `limit` kept (oldest dropped first, as the image store does); emptied by a reset.
 */
import type { ConversationItem } from "./responses-input.js";

/** A stored response: what GET answers, what it was asked, and what it continued. */
export interface StoredResponse {
  /** The response object exactly as it was answered. */
  response: Record<string, unknown> & { id: string; output: ConversationItem[] };
  /** The deployment that made it: GETs and DELETEs of it count there. */
  deployment: string;
  /** The items of the request's own `input`. */
  input: ConversationItem[];
  /** The response named by `previous_response_id`, kept even if since deleted or dropped. */
  previous?: StoredResponse;
}

export class ResponseStore {
  private responses = new Map<string, StoredResponse>();
  constructor(private readonly limit = 1000) {}

  put(stored: StoredResponse): void {
    this.responses.set(stored.response.id, stored);
    if (this.responses.size > this.limit) this.responses.delete(this.responses.keys().next().value as string);
  }

  get(id: string): StoredResponse | undefined {
    return this.responses.get(id);
  }

  /** False when there was no such response. */
  delete(id: string): boolean {
    return this.responses.delete(id);
  }

  clear(): void {
    this.responses.clear();
  }
}

/** The whole conversation up to and including `stored`: every earlier input and output, oldest first. */
export function conversationThrough(stored: StoredResponse): ConversationItem[] {
  const chain: StoredResponse[] = [];
  for (let at: StoredResponse | undefined = stored; at; at = at.previous) chain.unshift(at);
  return chain.flatMap((link) => [...link.input, ...link.response.output]);
}

/**
 * The items a response was given, as GET /responses/{id}/input_items lists them: the conversation
 * it continued (earlier inputs and outputs) and its own input, oldest first.
 */
export function inputItemsOf(stored: StoredResponse): ConversationItem[] {
  return [...(stored.previous ? conversationThrough(stored.previous) : []), ...stored.input];
}

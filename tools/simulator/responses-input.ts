/**
 * The Responses API's conversation items: checks `input` (a string, or messages with text, image
 * and file parts, function calls and function call outputs) with OpenAI's 400s, and turns it into
 * the items the service keeps and lists (each with an id: `msg_`, `fc_`, `fco_`). The same items,
 * seen as chat messages, are what the simulator counts tokens of and generates from, so a
 * response's usage and answer follow its whole conversation, `previous_response_id` included.
 */
import { isObject } from "./deployments.js";
import { invalidRequest } from "./errors.js";
import type { Random } from "./random.js";

/** One item of a conversation as the service keeps and lists it: input messages, outputs, function calls and their results. */
export type ConversationItem = Record<string, unknown> & { id: string; type: string };

const MESSAGE_ROLES = ["user", "assistant", "system", "developer"];
const USER_PART_TYPES = ["input_text", "input_image", "input_file"];
const ASSISTANT_PART_TYPES = ["output_text", "refusal"];
const IMAGE_DETAILS = ["low", "high", "auto", "original"];

/** `prefix` and 48 hex digits from `random`, the shape of OpenAI's response and item ids. */
export function itemId(prefix: string, random: Random): string {
  let hex = "";
  for (let i = 0; i < 6; i++) hex += random.nextUint32().toString(16).padStart(8, "0");
  return prefix + hex;
}

/**
 * Checks `input` and returns it as conversation items, with ids (kept when the caller gave one).
 * @throws SimulatorHttpError 400 in OpenAI's shape for a malformed input.
 */
export function inputItems(input: unknown, random: Random): ConversationItem[] {
  if (typeof input === "string") return [message("user", [{ type: "input_text", text: input }], random)];
  if (!Array.isArray(input))
    throw invalidRequest("Invalid type for 'input': expected one of a string or array of input items.", "input", "invalid_type");
  return input.map((item: unknown, i) => inputItem(item, `input[${i}]`, random));
}

function inputItem(item: unknown, where: string, random: Random): ConversationItem {
  if (!isObject(item)) throw invalidRequest(`Invalid type for '${where}': expected an object.`, where, "invalid_type");
  const type = item.type ?? "message";
  const givenId = typeof item.id === "string" && item.id ? item.id : undefined;
  switch (type) {
    case "message": {
      const role = item.role;
      if (typeof role !== "string") throw missing(`${where}.role`);
      if (!MESSAGE_ROLES.includes(role))
        throw invalidRequest(
          `Invalid value: '${role}'. Supported values are: 'user', 'assistant', 'system', and 'developer'.`,
          `${where}.role`,
          "invalid_value",
        );
      const parts = contentParts(item.content, role, `${where}.content`);
      return message(role, parts, random, givenId);
    }
    case "function_call": {
      for (const key of ["call_id", "name", "arguments"]) if (typeof item[key] !== "string") throw missing(`${where}.${key}`);
      return {
        id: givenId ?? itemId("fc_", random),
        type: "function_call",
        status: "completed",
        arguments: item.arguments,
        call_id: item.call_id,
        name: item.name,
      };
    }
    case "function_call_output": {
      if (typeof item.call_id !== "string" || !item.call_id) throw missing(`${where}.call_id`);
      const output = item.output;
      if (typeof output !== "string" && !Array.isArray(output))
        throw invalidRequest(
          `Invalid type for '${where}.output': expected one of a string or array of content parts.`,
          `${where}.output`,
          "invalid_type",
        );
      return {
        id: givenId ?? itemId("fco_", random),
        type: "function_call_output",
        call_id: item.call_id,
        output: typeof output === "string" ? output : userParts(output, `${where}.output`),
        status: "completed",
      };
    }
    default:
      throw invalidRequest(
        `Invalid value: '${String(type)}'. The simulator takes input items of type 'message', 'function_call' and 'function_call_output'.`,
        `${where}.type`,
        "invalid_value",
      );
  }
}

function message(role: string, content: Record<string, unknown>[], random: Random, id?: string): ConversationItem {
  return { id: id ?? itemId("msg_", random), type: "message", role, content, status: "completed" };
}

/** A message's content as parts: text becomes `input_text` (or `output_text` for the assistant's own turns). */
function contentParts(content: unknown, role: string, where: string): Record<string, unknown>[] {
  const assistant = role === "assistant";
  if (typeof content === "string")
    return [assistant ? { type: "output_text", text: content, annotations: [], logprobs: [] } : { type: "input_text", text: content }];
  if (!Array.isArray(content))
    throw invalidRequest(`Invalid type for '${where}': expected one of a string or array of content parts.`, where, "invalid_type");
  return assistant ? assistantParts(content, where) : userParts(content, where);
}

function userParts(parts: unknown[], where: string): Record<string, unknown>[] {
  return parts.map((part, j) => {
    const at = `${where}[${j}]`;
    const type = isObject(part) ? part.type : undefined;
    if (!isObject(part) || typeof type !== "string") throw missing(`${at}.type`);
    if (!USER_PART_TYPES.includes(type))
      throw invalidRequest(
        `Invalid value: '${type}'. Supported values are: 'input_text', 'input_image', and 'input_file'.`,
        `${at}.type`,
        "invalid_value",
      );
    if (type === "input_text") {
      if (typeof part.text !== "string") throw missing(`${at}.text`);
      return { type, text: part.text };
    }
    if (type === "input_image") {
      if (typeof part.image_url !== "string" && typeof part.file_id !== "string") throw missing(`${at}.image_url`);
      const detail = part.detail ?? "auto";
      if (typeof detail !== "string" || !IMAGE_DETAILS.includes(detail))
        throw invalidRequest(
          `Invalid value: '${String(detail)}'. Supported values are: 'low', 'high', 'auto', and 'original'.`,
          `${at}.detail`,
          "invalid_value",
        );
      return { type, detail, ...(typeof part.image_url === "string" ? { image_url: part.image_url } : { file_id: part.file_id }) };
    }
    if (typeof part.file_id !== "string" && typeof part.file_data !== "string" && typeof part.file_url !== "string")
      throw missing(`${at}.file_id`);
    return { ...part };
  });
}

function assistantParts(parts: unknown[], where: string): Record<string, unknown>[] {
  return parts.map((part, j) => {
    const at = `${where}[${j}]`;
    const type = isObject(part) ? part.type : undefined;
    if (!isObject(part) || typeof type !== "string") throw missing(`${at}.type`);
    if (!ASSISTANT_PART_TYPES.includes(type))
      throw invalidRequest(`Invalid value: '${type}'. Supported values are: 'output_text' and 'refusal'.`, `${at}.type`, "invalid_value");
    if (type === "refusal") {
      if (typeof part.refusal !== "string") throw missing(`${at}.refusal`);
      return { type, refusal: part.refusal };
    }
    if (typeof part.text !== "string") throw missing(`${at}.text`);
    return { type, text: part.text, annotations: Array.isArray(part.annotations) ? part.annotations : [], logprobs: [] };
  });
}

function missing(param: string) {
  return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
}

/**
 * Every function call output answers a function call of the conversation, as OpenAI requires.
 * @throws SimulatorHttpError 400 naming the call id that no call made.
 */
export function checkCallOutputs(context: readonly ConversationItem[]): void {
  const calls = new Set(context.filter((item) => item.type === "function_call").map((item) => item.call_id));
  for (const item of context)
    if (item.type === "function_call_output" && !calls.has(item.call_id))
      throw invalidRequest(`No tool call found for function call output with call_id ${String(item.call_id)}.`, "input");
}

/**
 * The conversation as chat messages, for counting its tokens as chat does: text and refusal parts,
 * images by detail, files as their JSON, function calls as the assistant's tool calls and their
 * outputs as tool messages. Instructions come first, as a system message.
 */
export function asChatMessages(instructions: string | undefined, context: readonly ConversationItem[]): Record<string, unknown>[] {
  const messages: Record<string, unknown>[] = instructions ? [{ role: "system", content: instructions }] : [];
  for (const item of context) {
    if (item.type === "message") messages.push({ role: item.role, content: chatParts(item.content as Record<string, unknown>[]) });
    else if (item.type === "function_call")
      messages.push({ role: "assistant", content: null, tool_calls: [{ function: { name: item.name, arguments: item.arguments } }] });
    else if (item.type === "function_call_output")
      messages.push({
        role: "tool",
        tool_call_id: item.call_id,
        content: typeof item.output === "string" ? item.output : chatParts(item.output as Record<string, unknown>[]),
      });
  }
  return messages;
}

function chatParts(parts: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return parts.map((part) => {
    switch (part.type) {
      case "input_text":
      case "output_text":
        return { type: "text", text: part.text };
      case "refusal":
        return { type: "refusal", refusal: part.refusal };
      case "input_image":
        return { type: "image_url", image_url: { url: part.image_url ?? "", detail: part.detail } };
      default:
        return part;
    }
  });
}

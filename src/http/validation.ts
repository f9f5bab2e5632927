import { z } from "zod";
import { BadInputError } from "../errors.js";

/**
 * Validates a parsed body against a zod schema and turns the first problem into one specific,
 * OpenAI-style BadInputError: `param` names the field (`messages[2].role`), the message says what
 * was expected and what arrived.
 * @throws BadInputError (code `invalid_type`, `invalid_value`, `missing_required_parameter`, ...) on the first problem.
 */
export function validateBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw issueToError(issue);
}

/** A number field that must be an integer in [min, max], with messages that say so. */
export function integerIn(min: number, max: number) {
  return z
    .number()
    .int({ error: "must be an integer" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
}

/** A number field in [min, max], with messages that say so. */
export function numberIn(min: number, max: number) {
  return z
    .number()
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
}

/** `["messages", 2, "role"]` -> `messages[2].role`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text === "" ? String(part) : `.${String(part)}`;
  }
  return text;
}

function issueToError(issue: z.core.$ZodIssue): BadInputError {
  const param = formatPath(issue.path);
  const where = param === "" ? "The request body" : `'${param}'`;
  const input = (issue as { input?: unknown }).input;
  if (input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
    const expected = issue.code === "invalid_type" ? `(expected ${describeExpected(issue.expected)})` : `: it ${issue.message}`;
    return new BadInputError(`${where} is required ${expected}`, { param, code: "missing_required_parameter" });
  }
  const got = input !== undefined && (typeof input !== "object" || input === null) ? ` (got ${describeInput(input)})` : "";
  const code = issue.code === "invalid_value" ? "invalid_value" : "invalid_type";
  if (issue.code === "invalid_type") {
    return new BadInputError(
      `${where} must be ${describeExpected(issue.expected)}${input !== undefined ? ` (got ${describeInput(input)})` : ""}`,
      { param, code },
    );
  }
  // Custom messages set in the schemas are complete predicates; zod's own get "is invalid:" before them.
  const custom = !/^(Invalid|Too (small|big)|Unrecognized)/.test(issue.message);
  const message = custom ? `${where} ${issue.message}${got}` : `${where} is invalid: ${lowerFirst(issue.message)}${got}`;
  return new BadInputError(message, { param, code });
}

function describeExpected(expected: string): string {
  if (expected === "int") return "an integer";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function describeInput(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return `an array of ${input.length}`;
  if (typeof input === "string") return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input);
  if (typeof input === "object") return "an object";
  return `${typeof input} ${String(input)}`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * Checks of single request parameters (integers, numbers, booleans, strings within bounds), each
 * refusing a bad value with OpenAI's own 400 wording and error code. Shared by the generating
 * operations (chat, completions, responses) so that the same mistake gets the same answer on
 * every API, as it does on Azure.
 */
import { invalidRequest } from "./errors.js";

/**
 * `body[key]` as an integer in [min, max]; undefined when absent or null. `name` is what the
 * error calls it (a nested parameter's dotted path), `key` by default.
 * @throws SimulatorHttpError 400 invalid_type, integer_below_min_value or integer_above_max_value.
 */
export function intParam(body: Record<string, unknown>, key: string, min: number, max: number, name = key): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value))
    throw invalidRequest(
      `Invalid type for '${name}': expected an integer, but got ${typeof value === "number" ? "a decimal" : typeof value} instead.`,
      name,
      "invalid_type",
    );
  if (value < min || value > max)
    throw invalidRequest(
      `Invalid '${name}': integer ${value < min ? "below minimum" : "above maximum"} value. Expected a value ${value < min ? ">=" : "<="} ${value < min ? min : max}, but got ${value} instead.`,
      name,
      value < min ? "integer_below_min_value" : "integer_above_max_value",
    );
  return value;
}

/** `body[key]` as a number in [min, max]; undefined when absent or null. @throws SimulatorHttpError 400. */
export function numberParam(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number")
    throw invalidRequest(`Invalid type for '${key}': expected a number, but got ${typeof value} instead.`, key, "invalid_type");
  if (value < min || value > max)
    throw invalidRequest(`Invalid '${key}': expected a value between ${min} and ${max}, but got ${value} instead.`, key, "invalid_value");
  return value;
}

/** `body[key]` as a boolean; undefined when absent or null. @throws SimulatorHttpError 400 invalid_type. */
export function boolParam(body: Record<string, unknown>, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean")
    throw invalidRequest(`Invalid type for '${key}': expected a boolean, but got ${typeof value} instead.`, key, "invalid_type");
  return value;
}

/** `body[key]` as a string; undefined when absent or null. `name` as for intParam. @throws SimulatorHttpError 400 invalid_type. */
export function stringParam(body: Record<string, unknown>, key: string, name = key): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string")
    throw invalidRequest(`Invalid type for '${name}': expected a string, but got ${typeof value} instead.`, name, "invalid_type");
  return value;
}

/**
 * Sample values for JSON schemas: what the simulated model answers for structured outputs
 * (`response_format: json_schema`) and tool-call arguments. The instance satisfies the schema as
 * strict mode does (every property present, enums and consts kept), so the app's parsing and
 * validation of model output can be exercised without a model.
 */
import { isObject } from "./deployments.js";
import type { Random } from "./random.js";
import { generateProse } from "./tokens.js";

type Schema = Record<string, unknown>;

/**
 * A plausible instance of a JSON schema (structured outputs, tool arguments): every property
 * given (strict mode requires all), enums and consts honoured, local `$ref`s followed.
 */
export function sampleFromSchema(schema: unknown, random: Random, root: unknown = schema, depth = 0): unknown {
  if (!isObject(schema) || depth > 8) return null;
  const node: Schema = schema;
  if (typeof node.$ref === "string") return sampleFromSchema(resolveRef(root, node.$ref), random, root, depth + 1);
  if ("const" in node) return node.const;
  if (Array.isArray(node.enum) && node.enum.length) return node.enum[0];
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const options = node[key];
    if (Array.isArray(options) && options.length) {
      // Prefer a non-null branch so nullable fields still carry a value.
      const pick = options.find((option) => !(isObject(option) && option.type === "null")) ?? options[0];
      return sampleFromSchema(pick, random, root, depth + 1);
    }
  }
  let type = node.type;
  if (Array.isArray(type)) type = type.find((name) => name !== "null") ?? type[0];
  if (type === undefined) type = isObject(node.properties) ? "object" : node.items ? "array" : "string";
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = isObject(node.properties) ? node.properties : {};
      for (const [name, sub] of Object.entries(props)) out[name] = sampleFromSchema(sub, random, root, depth + 1);
      return out;
    }
    case "array": {
      const min = typeof node.minItems === "number" ? node.minItems : 1;
      const count = Math.max(min, Math.min(typeof node.maxItems === "number" ? node.maxItems : 2, 2));
      return Array.from({ length: count }, () => sampleFromSchema(node.items, random, root, depth + 1));
    }
    case "integer": {
      const min = typeof node.minimum === "number" ? Math.ceil(node.minimum) : 0;
      const max = typeof node.maximum === "number" ? Math.floor(node.maximum) : min + 100;
      return random.int(min, Math.max(min, max));
    }
    case "number": {
      const min = typeof node.minimum === "number" ? node.minimum : 0;
      const max = typeof node.maximum === "number" ? node.maximum : min + 100;
      return Math.round((min + random.next() * (max - min)) * 100) / 100;
    }
    case "boolean":
      return random.next() < 0.5;
    case "null":
      return null;
    default:
      return sampleString(node, random);
  }
}

function sampleString(schema: Schema, random: Random): string {
  switch (schema.format) {
    case "date-time":
      return "2024-07-18T12:00:00Z";
    case "date":
      return "2024-07-18";
    case "time":
      return "12:00:00";
    case "email":
      return "user@example.com";
    case "uri":
    case "url":
      return "https://example.com/";
    case "uuid":
      return "00000000-0000-4000-8000-000000000000";
  }
  const text = generateProse(random, random.int(2, 6)).replace(/\.$/, "");
  const max = typeof schema.maxLength === "number" ? schema.maxLength : undefined;
  return max !== undefined ? text.slice(0, max) : text;
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith("#")) return {};
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    if (!isObject(node)) return {};
    node = node[decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"))];
  }
  return node;
}

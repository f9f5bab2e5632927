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
  const s: Schema = schema;
  if (typeof s.$ref === "string") return sampleFromSchema(resolveRef(root, s.$ref), random, root, depth + 1);
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length) {
      // Prefer a non-null branch so nullable fields still carry a value.
      const pick = options.find((o) => !(isObject(o) && o.type === "null")) ?? options[0];
      return sampleFromSchema(pick, random, root, depth + 1);
    }
  }
  let type = s.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null") ?? type[0];
  if (type === undefined) type = isObject(s.properties) ? "object" : s.items ? "array" : "string";
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = isObject(s.properties) ? s.properties : {};
      for (const [name, sub] of Object.entries(props)) out[name] = sampleFromSchema(sub, random, root, depth + 1);
      return out;
    }
    case "array": {
      const min = typeof s.minItems === "number" ? s.minItems : 1;
      const count = Math.max(min, Math.min(typeof s.maxItems === "number" ? s.maxItems : 2, 2));
      return Array.from({ length: count }, () => sampleFromSchema(s.items, random, root, depth + 1));
    }
    case "integer": {
      const min = typeof s.minimum === "number" ? Math.ceil(s.minimum) : 0;
      const max = typeof s.maximum === "number" ? Math.floor(s.maximum) : min + 100;
      return random.int(min, Math.max(min, max));
    }
    case "number": {
      const min = typeof s.minimum === "number" ? s.minimum : 0;
      const max = typeof s.maximum === "number" ? s.maximum : min + 100;
      return Math.round((min + random.next() * (max - min)) * 100) / 100;
    }
    case "boolean":
      return random.next() < 0.5;
    case "null":
      return null;
    default:
      return sampleString(s, random);
  }
}

function sampleString(s: Schema, random: Random): string {
  switch (s.format) {
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
  const max = typeof s.maxLength === "number" ? s.maxLength : undefined;
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

/**
 * ASP.NET-style route templates as the Functions host accepts them in `route`:
 * literals (case-insensitive), `{name}`, optional `{name?}`, constrained `{name:int}`,
 * catch-all `{*rest}`, and defaults `{name=value}`.
 */

type Segment =
  | { kind: "literal"; text: string }
  | { kind: "param"; name: string; optional: boolean; catchAll: boolean; constraints: string[]; defaultValue?: string };

export interface CompiledRoute {
  template: string;
  segments: Segment[];
}

/**
 * Compiles a route template (without the route prefix).
 * @throws Error when the template has an unclosed brace or an empty parameter name.
 */
export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, "");
  const segments: Segment[] = [];
  if (trimmed === "") return { template, segments };
  for (const part of trimmed.split("/")) {
    const param = /^\{(\*)?([^{}:=?]+)((?::[^{}:=?]+(?:\([^)]*\))?)*)(\?)?(?:=([^{}]*))?\}$/.exec(part);
    if (param) {
      const [, star, name, constraintText, question, defaultValue] = param;
      segments.push({
        kind: "param",
        name: name!.trim(),
        catchAll: Boolean(star),
        optional: Boolean(question) || defaultValue !== undefined || Boolean(star),
        constraints: constraintText ? constraintText.split(":").filter(Boolean) : [],
        ...(defaultValue !== undefined ? { defaultValue } : {}),
      });
    } else if (part.includes("{") || part.includes("}")) {
      throw new Error(`Route template "${template}" has a malformed parameter in "${part}"; use {name} per segment.`);
    } else {
      segments.push({ kind: "literal", text: part });
    }
  }
  return { template, segments };
}

/**
 * Matches a request path (prefix already removed, still percent-encoded) and returns the route
 * parameters, or undefined. Each segment is decoded exactly once.
 */
export function matchRoute(route: CompiledRoute, path: string): Record<string, string> | undefined {
  const parts = path
    .replace(/^\/+|\/+$/g, "")
    .split("/")
    .filter((part) => part !== "");
  const params: Record<string, string> = {};
  let index = 0;
  for (const segment of route.segments) {
    if (segment.kind === "literal") {
      const part = parts[index];
      if (part === undefined || safeDecode(part).toLowerCase() !== segment.text.toLowerCase()) return undefined;
      index++;
      continue;
    }
    if (segment.catchAll) {
      const rest = parts.slice(index).map(safeDecode).join("/");
      if (rest !== "") params[segment.name] = rest;
      else if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
      index = parts.length;
      continue;
    }
    const value = parts[index];
    if (value === undefined) {
      if (!segment.optional) return undefined;
      if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
      continue;
    }
    const decoded = safeDecode(value);
    if (!segment.constraints.every((constraint) => satisfies(constraint, decoded))) return undefined;
    params[segment.name] = decoded;
    index++;
  }
  return index === parts.length ? params : undefined;
}

function satisfies(constraint: string, value: string): boolean {
  const [name, argument] = /^([a-z]+)(?:\((.*)\))?$/i.exec(constraint)?.slice(1) ?? [constraint, undefined];
  switch (name?.toLowerCase()) {
    case "int":
    case "long":
      return /^-?\d+$/.test(value);
    case "bool":
      return /^(true|false)$/i.test(value);
    case "alpha":
      return /^[a-z]+$/i.test(value);
    case "guid":
      return /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i.test(value);
    case "double":
    case "float":
    case "decimal":
      return value.trim() !== "" && Number.isFinite(Number(value));
    case "minlength":
      return value.length >= Number(argument);
    case "maxlength":
      return value.length <= Number(argument);
    case "length":
      return value.length === Number(argument);
    case "min":
      return Number(value) >= Number(argument);
    case "max":
      return Number(value) <= Number(argument);
    case "regex":
      return new RegExp(argument ?? "", "i").test(value);
    default:
      // Unknown constraints are accepted rather than making a route unreachable.
      return true;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

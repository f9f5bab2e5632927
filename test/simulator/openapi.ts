import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * OpenAI's OpenAPI description (MIT, see openai-openapi.LICENSE beside it), kept in the repository so
 * the conformance tests run on any clone.
 */
export const SPEC_PATH = fileURLToPath(new URL("../fixtures/specs/openai-openapi.json", import.meta.url));

/** OpenAPI 3.0's `nullable` (also inside OpenAI's 3.1 document): turn it into JSON Schema's null type. */
export function denullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(denullable);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = denullable(v);
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (Array.isArray(out.type)) out.type = [...out.type, "null"];
    else return { anyOf: [out, { type: "null" }] };
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  } else delete out.nullable;
  return out;
}

export type Validate = (schemaName: string, data: unknown) => string[];

/** Validates data against `#/components/schemas/NAME` of the spec; answers the errors (none: valid). */
export function openApiValidator(): Validate {
  const spec = denullable(JSON.parse(readFileSync(SPEC_PATH, "utf8")));
  const ajv = new Ajv2020.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const f of ["unixtime", "float", "double", "int32", "int64", "binary"]) ajv.addFormat(f, true);
  ajv.addSchema(spec as object, "spec");
  return (name, data) => {
    const validate = ajv.getSchema(`spec#/components/schemas/${name}`);
    if (!validate) throw new Error(`no schema ${name} in the spec`);
    if (validate(data)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  };
}

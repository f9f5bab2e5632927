import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { denullable } from "./openapi.js";

/**
 * Azure's own REST specification of the Azure OpenAI data plane, api-version 2024-10-21 (stable),
 * copied byte for byte from Azure/azure-rest-api-specs (MIT; source, path and commit in
 * azure-openai-inference-2024-10-21.README.md beside it). The second conformance reference for
 * the dated routes, beside OpenAI's own description (openapi.ts).
 */
export const AZURE_SPEC_PATH = fileURLToPath(new URL("../fixtures/specs/azure-openai-inference-2024-10-21.json", import.meta.url));

interface MediaType {
  schema: Record<string, unknown>;
}
interface SpecResponse {
  content?: Record<string, MediaType>;
  headers?: Record<string, unknown>;
}
export interface AzureSpec {
  info: { version: string };
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, SpecResponse> }>>;
  components: { schemas: Record<string, Record<string, unknown>> };
}

type Node = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Where Azure's real answers differ from its 2024-10-21 specification. The simulator follows the
 * real answers, so these are applied to the specification before validating; each says what
 * Azure really sends and where that was seen.
 */
function applyRealAnswers(spec: AzureSpec): void {
  const schemas = spec.components.schemas as Node;
  // Model-side 400s carry `"param": null, "code": null` (Azure/azure-sdk-for-net#40645: Azure's
  // 400 for a bad response_format, with apim-request-id and x-ms-region; mrwadams/stride-gpt#19:
  // `'code': None` from Azure), and the content filter's 400 has `"type": null` (errors.ts). The
  // specification types code, param and type as plain strings.
  schemas.errorBase.properties.code.nullable = true;
  for (const name of ["error", "dalleError"]) {
    schemas[name].properties.param.nullable = true;
    schemas[name].properties.type.nullable = true;
  }
  // `encoding_format: "base64"` answers each embedding as a base64 string of float32s, as OpenAI's
  // API does; the specification only has the array of numbers.
  const item = (spec.paths["/deployments/{deployment-id}/embeddings"]!.post!.responses["200"]!.content!["application/json"]!.schema as Node)
    .properties.data.items.properties;
  item.embedding = { oneOf: [item.embedding, { type: "string", description: "encoding_format base64" }] };
  // Streamed completions send `finish_reason: null` until the last chunk (the specification says
  // streamed and whole answers share this shape, but lists only the final reasons).
  schemas.createCompletionResponse.properties.choices.items.properties.finish_reason.nullable = true;
}

/** `#/components/...` references, made absolute to the spec registered as "azure", for schemas compiled on their own. */
function absoluteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(absoluteRefs);
  if (typeof node !== "object" || node === null) return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, key === "$ref" && typeof value === "string" ? `azure${value}` : absoluteRefs(value)]),
  );
}

export interface AzureSpecChecks {
  /** The specification as published (before applyRealAnswers). */
  spec: AzureSpec;
  /** Validates `body` against the response schema of an operation: errors, none when valid. */
  validate(path: string, status: string, contentType: string, body: unknown, member?: string): string[];
  /** Validates against one named schema of the specification. */
  validateSchema(name: string, body: unknown): string[];
}

export function azureSpecChecks(): AzureSpecChecks {
  const published = JSON.parse(readFileSync(AZURE_SPEC_PATH, "utf8")) as AzureSpec;
  const patched = structuredClone(published);
  applyRealAnswers(patched);
  const ajv = new Ajv2020.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const format of ["unixtime", "int32", "binary", "string"]) ajv.addFormat(format, true);
  ajv.addSchema(denullable(patched) as object, "azure");
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  const run = (key: string, schema: () => unknown, body: unknown): string[] => {
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile(absoluteRefs(denullable(schema())) as object);
      compiled.set(key, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  };
  return {
    spec: published,
    validate(path, status, contentType, body, member) {
      const media = patched.paths[path]?.post?.responses[status]?.content?.[contentType];
      if (!media) throw new Error(`the specification has no ${status} ${contentType} answer for POST ${path}`);
      if (member === undefined) return run(`${path} ${status} ${contentType}`, () => media.schema, body);
      const members = (media.schema.oneOf as { $ref: string }[] | undefined) ?? [];
      if (!members.some((m) => m.$ref === `#/components/schemas/${member}`))
        throw new Error(`${member} is not one of the ${status} ${contentType} answers of POST ${path}`);
      return run(member, () => ({ $ref: `#/components/schemas/${member}` }), body);
    },
    validateSchema(name, body) {
      if (!patched.components.schemas[name]) throw new Error(`no schema ${name} in the specification`);
      return run(name, () => ({ $ref: `#/components/schemas/${name}` }), body);
    },
  };
}

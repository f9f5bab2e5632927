/**
 * Property: whatever body a caller sends to POST /api/v1/chat/completions or /api/v1/embeddings
 * (random bytes, random JSON, valid requests with one part broken), the answer is never a 5xx;
 * every 4xx is OpenAI's JSON error; and the app process stays alive (an unhandled rejection would
 * end it).
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NO_LATENCY } from "../../tools/simulator/index.js";
import { startStack, type Stack } from "../support/stack.js";

const VALID = {
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "Be brief" },
    { role: "user", content: [{ type: "text", text: "Hi" }] },
  ],
  max_tokens: 5,
  temperature: 0.5,
  stream: false,
  tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: {} } } }],
  tool_choice: "auto",
  stop: ["\n"],
  seed: 1,
};

let stack: Stack;
let exited = false;

beforeAll(async () => {
  stack = await startStack({ env: { HTTP_AUTH_LEVEL: "anonymous", HTTP_MAX_REQUEST_BYTES: "8192" }, simulator: { latency: NO_LATENCY } });
  void stack.host.exited.then(() => (exited = true));
});

afterAll(async () => {
  await stack?.stop();
});

/** Small JSON values, so that a mutation that happens to be valid stays cheap to answer. */
const smallJson = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e9, "", "x", "user", "robot", [], {}),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Paths into VALID that a mutation may hit. */
const PATHS: (string | number)[][] = [
  ["model"],
  ["messages"],
  ["messages", 0],
  ["messages", 0, "role"],
  ["messages", 0, "content"],
  ["messages", 1, "content"],
  ["messages", 1, "content", 0],
  ["messages", 1, "content", 0, "type"],
  ["messages", 1, "content", 0, "text"],
  ["max_tokens"],
  ["temperature"],
  ["stream"],
  ["tools"],
  ["tools", 0, "function"],
  ["tools", 0, "function", "name"],
  ["tool_choice"],
  ["stop"],
  ["seed"],
  ["stream_options"],
  ["n"],
  ["response_format"],
  ["max_completion_tokens"],
];

function mutate(path: (string | number)[], value: unknown, remove: boolean): unknown {
  const copy = structuredClone(VALID) as Record<string | number, unknown>;
  let target: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    const next = target[key];
    if (typeof next !== "object" || next === null) return copy;
    target = next as Record<string | number, unknown>;
  }
  const last = path.at(-1)!;
  if (remove) delete target[last];
  else target[last] = value;
  return copy;
}

const mutatedBody = fc
  .tuple(fc.constantFrom(...PATHS), smallJson, fc.boolean())
  .map(([path, value, remove]) => JSON.stringify(mutate(path, value, remove)));

const truncatedBody = fc.nat({ max: JSON.stringify(VALID).length }).map((n) => JSON.stringify(VALID).slice(0, n));

const body = fc.oneof(
  mutatedBody,
  truncatedBody,
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
  fc.constant("x".repeat(9000)), // over the 8 KB body limit
);

/** Posts `payload` and checks the answer; returns its status. */
async function postAndCheck(route: string, payload: string | Uint8Array): Promise<number> {
  const response = await fetch(`${stack.host.url}/api/v1/${route}`, {
    method: "POST",
    body: payload,
    headers: { "content-type": "application/json" },
  });
  const text = await response.text();
  expect(response.status).toBeLessThan(500);
  if (response.status >= 400) {
    expect([400, 413]).toContain(response.status);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    const { error } = JSON.parse(text) as { error: { message: unknown; type: unknown } };
    expect(typeof error.message).toBe("string");
    expect(typeof error.type).toBe("string");
  }
  expect(exited).toBe(false);
  return response.status;
}

const VALID_EMBEDDINGS = {
  model: "text-embedding-3-small",
  input: ["first text", "second text"],
  dimensions: 64,
  encoding_format: "float",
};
const EMBEDDINGS_PATHS: (string | number)[][] = [
  ["model"],
  ["input"],
  ["input", 0],
  ["input", 1],
  ["dimensions"],
  ["encoding_format"],
  ["user"],
];

const embeddingsBody = fc.oneof(
  fc.tuple(fc.constantFrom(...EMBEDDINGS_PATHS), smallJson, fc.boolean()).map(([path, value, remove]) => {
    const copy = structuredClone(VALID_EMBEDDINGS) as Record<string | number, unknown>;
    let target: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    if (remove) delete target[path.at(-1)!];
    else target[path.at(-1)!] = value;
    return JSON.stringify(copy);
  }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 100 }),
);

it("embeddings: never 5xx, OpenAI-shaped 4xx, live process", async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(embeddingsBody, async (payload) => {
      const status = await postAndCheck("embeddings", payload);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }),
    { numRuns: 150, seed: 7 },
  );
  expect(statuses.get(200) ?? 0).toBeGreaterThan(5);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
});

it("never answers 5xx, answers every 4xx in OpenAI's shape, and keeps the process alive", async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(body, async (payload) => {
      const status = await postAndCheck("chat/completions", payload);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }),
    { numRuns: 250, seed: 20240611 },
  );
  // Both outcomes must have been exercised, or the property says little.
  expect(statuses.get(200) ?? 0).toBeGreaterThan(10);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
  expect(statuses.get(413) ?? 0).toBeGreaterThan(0);
  const models = await fetch(`${stack.host.url}/api/v1/models`);
  expect(models.status).toBe(200);
});

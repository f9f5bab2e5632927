/**
 * The simulator's control API under /_simulator/: journal, counters, reset, deployments (read,
 * patch, put, delete), runtime settings, direct token minting, health, and the generated images
 * that image answers link to. Plain HTTP so that tests and benchmarks in other processes can
 * drive a running simulator; control-client.ts is its typed client and README.md its reference.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JournalEntry } from "./context.js";
import { faultProblems, isObject, latencyProblems, validateDeployment, type DeploymentConfig } from "./deployments.js";
import { SimulatorHttpError } from "./errors.js";
import { readJson, sendJson } from "./http-io.js";
import type { DeploymentRuntime, SimulatorState } from "./state.js";

/** Serves one /_simulator/ request; a bad request body or value is a 400 that says what is wrong. */
export async function serveControl(state: SimulatorState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const path = url.pathname.slice("/_simulator".length);
  const method = req.method ?? "GET";
  try {
    const image = path.match(/^\/images\/([0-9a-f-]+)\.png$/);
    if (image && method === "GET") return sendImage(state, res, image[1]!);
    if (path === "/health") return sendJson(res, 200, { ok: true });
    if (path === "/journal" && method === "GET") return sendJson(res, 200, { entries: queryJournal(state.journal, url.searchParams) });
    if (path === "/counters" && method === "GET") return sendJson(res, 200, state.counters());
    if (path === "/reset" && method === "POST") {
      const body = await readJson(req, true);
      state.reset(body.keepDeployments === true);
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/settings") {
      if (method === "PATCH") updateSettings(state, await readJson(req));
      return sendJson(res, 200, state.runtimeSettings());
    }
    if (path === "/tokens" && method === "POST") {
      const body = await readJson(req, true);
      const token = await state.authority.issue({
        ...(typeof body.resource === "string" ? { resource: body.resource } : {}),
        ...(typeof body.lifetimeSeconds === "number" ? { lifetimeSeconds: body.lifetimeSeconds } : {}),
        ...(typeof body.clientId === "string" ? { clientId: body.clientId } : {}),
      });
      return sendJson(res, 200, token);
    }
    if (path === "/deployments" && method === "GET")
      return sendJson(res, 200, { deployments: [...state.deployments.values()].map((runtime) => runtime.config) });
    const deploymentPath = path.match(/^\/deployments\/([^/]+)$/);
    if (deploymentPath && (await serveDeployment(state, req, res, method, decodeURIComponent(deploymentPath[1]!)))) return;
    sendJson(res, 404, {
      error: { code: "404", message: `No control endpoint ${method} /_simulator${path}. See tools/simulator/README.md.` },
    });
  } catch (error) {
    if (error instanceof SimulatorHttpError) return sendJson(res, error.status, error.body, error.headers);
    if (error instanceof Error) return sendJson(res, 400, { error: { code: "BadRequest", message: error.message } });
    throw error;
  }
}

function sendImage(state: SimulatorState, res: ServerResponse, id: string): void {
  const png = state.images.get(id);
  if (!png) return sendJson(res, 404, { error: { code: "404", message: "Image not found (the simulator keeps the latest 64)." } });
  res.writeHead(200, { "content-type": "image/png", "content-length": png.length });
  res.end(png);
}

function queryJournal(journal: readonly JournalEntry[], query: URLSearchParams): JournalEntry[] {
  const deployment = query.get("deployment");
  const operation = query.get("operation");
  const since = Number(query.get("since") ?? 0);
  const limit = Number(query.get("limit") ?? 0);
  let entries = journal.filter(
    (entry) => (!deployment || entry.deployment === deployment) && (!operation || entry.operation === operation) && entry.id > since,
  );
  if (limit > 0) entries = entries.slice(-limit);
  return entries;
}

/** PATCH /settings: each field given is checked, then applied (a bad one stops the rest). */
function updateSettings(state: SimulatorState, body: Record<string, unknown>): void {
  if (body.disableKeyAuth !== undefined) {
    if (typeof body.disableKeyAuth !== "boolean") throw controlError("disableKeyAuth: a boolean");
    state.settings.disableKeyAuth = body.disableKeyAuth;
  }
  if (body.tokenLifetimeSeconds !== undefined) {
    if (typeof body.tokenLifetimeSeconds !== "number" || !(body.tokenLifetimeSeconds > 0))
      throw controlError("tokenLifetimeSeconds: a positive number");
    state.authority.tokenLifetimeSeconds = body.tokenLifetimeSeconds;
  }
  if (body.journalBodies !== undefined) {
    if (typeof body.journalBodies !== "boolean") throw controlError("journalBodies: a boolean");
    state.settings.journalBodies = body.journalBodies;
  }
}

/**
 * /deployments/{name}: PUT adds or replaces; GET, DELETE and PATCH act on the named deployment,
 * or on every one when the name is `*`.
 * @returns false when the method means nothing here (the caller answers 404).
 */
async function serveDeployment(
  state: SimulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  name: string,
): Promise<boolean> {
  if (method === "PUT") {
    const body = await readJson(req);
    const config = validateDeployment({ ...body, name }, `deployment ${name}`);
    state.putDeployment(config);
    sendJson(res, 200, config);
    return true;
  }
  const targets =
    name === "*"
      ? [...state.deployments.values()]
      : [state.deployments.get(name)].filter((runtime): runtime is DeploymentRuntime => !!runtime);
  if (!targets.length) {
    sendJson(res, 404, { error: { code: "DeploymentNotFound", message: `No deployment named ${name}.` } });
    return true;
  }
  if (method === "GET") {
    sendJson(res, 200, targets[0]!.config);
    return true;
  }
  if (method === "DELETE") {
    for (const target of targets) state.deployments.delete(target.config.name);
    sendJson(res, 200, { ok: true });
    return true;
  }
  if (method === "PATCH") {
    const patch = await readJson(req);
    const updated = targets.map((target) => patchDeployment(target, patch));
    sendJson(res, 200, name === "*" ? { deployments: updated } : updated[0]);
    return true;
  }
  return false;
}

/**
 * Applies a partial deployment: `latency` merges into the current latency, `faults` replaces
 * the rules (and restarts their counts), anything else replaces the field. `null` removes: a
 * field (`{"latency": null}` drops the whole latency override, `{"faults": null}` the rules), or
 * one latency field (`{"latency": {"timeToFirstTokenMs": null}}`); a latency left empty is removed.
 */
function patchDeployment(runtime: DeploymentRuntime, patch: Record<string, unknown>): DeploymentConfig {
  if ("name" in patch && patch.name !== runtime.config.name) throw controlError("name cannot be changed; PUT a new deployment instead");
  const problems = [...latencyPatchProblems(patch.latency), ...(patch.faults === null ? [] : faultProblems(patch.faults))];
  if (problems.length) throw controlError(problems.join("; "));
  const next: Record<string, unknown> = { ...runtime.config };
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete next[field];
    else if (field === "latency") {
      const latency: Record<string, unknown> = { ...runtime.config.latency };
      for (const [key, fieldValue] of Object.entries(value as Record<string, unknown>)) {
        if (fieldValue === null) delete latency[key];
        else latency[key] = fieldValue;
      }
      if (Object.keys(latency).length) next.latency = latency;
      else delete next.latency;
    } else next[field] = value;
  }
  const config = validateDeployment(next, `deployment ${runtime.config.name}`);
  runtime.config = config;
  runtime.applyQuotaSettings();
  if ("faults" in patch) runtime.faultSelector.reset();
  return config;
}

/** A latency patch: null, or an object whose fields are each a non-negative number or null. */
function latencyPatchProblems(latency: unknown): string[] {
  if (latency === undefined || latency === null) return [];
  if (!isObject(latency)) return ["latency: an object, or null to remove the override"];
  // A null field is a removal: check only that the field exists.
  return latencyProblems(Object.fromEntries(Object.entries(latency).map(([key, value]) => [key, value === null ? 0 : value])));
}

function controlError(message: string): SimulatorHttpError {
  return new SimulatorHttpError(400, { error: { code: "BadRequest", message } });
}

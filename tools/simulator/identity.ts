/**
 * The App Service managed identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER, api-version
 * 2019-08-01): what @azure/identity's ManagedIdentityCredential calls on App Service and in
 * Functions. It checks the per-process secret header and mints Entra tokens from the simulator's
 * TokenAuthority, so an app can run keyless against the simulator exactly as it would on Azure.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { safeEqual, type TokenAuthority } from "./auth.js";
import { sendJson } from "./http-io.js";

export const IDENTITY_PATH = "/msi/token";
const IDENTITY_API_VERSION = "2019-08-01";

export function isIdentityPath(path: string): boolean {
  return path === IDENTITY_PATH || path === IDENTITY_PATH + "/";
}

/** Answers a token request: 401 without the right secret header, 400 without api-version or resource. */
export async function serveIdentity(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  identityHeader: string,
  authority: TokenAuthority,
): Promise<void> {
  const secret = req.headers["x-identity-header"];
  if (typeof secret !== "string" || !safeEqual(secret, identityHeader))
    return sendJson(res, 401, {
      statusCode: 401,
      message: "Unauthorized: the X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
    });
  if (url.searchParams.get("api-version") !== IDENTITY_API_VERSION)
    return sendJson(res, 400, { statusCode: 400, message: `api-version must be ${IDENTITY_API_VERSION}.` });
  const resource = url.searchParams.get("resource");
  if (!resource) return sendJson(res, 400, { statusCode: 400, message: "The 'resource' query parameter is required." });
  const clientId = url.searchParams.get("client_id") ?? undefined;
  const token = await authority.issue({ resource: resource.replace(/\/\.default$/, ""), ...(clientId ? { clientId } : {}) });
  sendJson(res, 200, token);
}

/** A random identity header value, like App Service's per-process secret. */
export function randomIdentityHeader(): string {
  return randomBytes(16).toString("hex");
}

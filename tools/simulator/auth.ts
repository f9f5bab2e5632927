/**
 * The simulator's authentication, as Azure OpenAI authenticates: API keys (`api-key`, or a Bearer
 * key on v1 paths), Entra ID access tokens issued by this simulator's TokenAuthority (its managed
 * identity endpoint and control API mint them; only its own signatures are accepted), and
 * `disableLocalAuth` (keys refused). Lets the app's keyless path run offline, end to end.
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { SignJWT, errors as joseErrors, generateKeyPair, jwtVerify, type CryptoKey } from "jose";
import { azureError } from "./errors.js";

export const COGNITIVE_SERVICES_AUDIENCE = "https://cognitiveservices.azure.com";

export type AuthMode = "api-key" | "bearer-key" | "entra";

export interface IssuedToken {
  access_token: string;
  /** Epoch seconds. */
  expires_on: number;
  resource: string;
  token_type: "Bearer";
  client_id: string;
}

export interface TokenRequest {
  resource?: string;
  lifetimeSeconds?: number;
  clientId?: string;
}

/**
 * Issues and checks Entra ID access tokens: an ephemeral RS256 key made at start, so only tokens
 * from this simulator's identity endpoint (or control API) are accepted.
 */
export class TokenAuthority {
  readonly tenantId = randomUUID();
  /** The system-assigned identity's client id, used when a request names none. */
  readonly systemClientId = randomUUID();
  tokensIssued = 0;

  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    public tokenLifetimeSeconds: number,
  ) {}

  static async create(tokenLifetimeSeconds: number): Promise<TokenAuthority> {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    return new TokenAuthority(privateKey, publicKey, tokenLifetimeSeconds);
  }

  async issue(request: TokenRequest = {}): Promise<IssuedToken> {
    const resource = request.resource ?? COGNITIVE_SERVICES_AUDIENCE;
    const clientId = request.clientId ?? this.systemClientId;
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (request.lifetimeSeconds ?? this.tokenLifetimeSeconds);
    const token = await new SignJWT({
      appid: clientId,
      azp: clientId,
      oid: clientId,
      tid: this.tenantId,
      idtyp: "app",
      ver: "1.0",
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: "simulator" })
      .setIssuer(`https://sts.windows.net/${this.tenantId}/`)
      .setAudience(resource)
      .setSubject(clientId)
      .setIssuedAt(now)
      .setNotBefore(now - 300)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.privateKey);
    this.tokensIssued++;
    return { access_token: token, expires_on: exp, resource, token_type: "Bearer", client_id: clientId };
  }

  /**
   * @throws SimulatorHttpError 401 in Azure's shape when the token is unsigned by us, for another
   * audience, or expired.
   */
  async verify(token: string): Promise<void> {
    try {
      await jwtVerify(token, this.publicKey, {
        audience: [COGNITIVE_SERVICES_AUDIENCE, `${COGNITIVE_SERVICES_AUDIENCE}/`],
        algorithms: ["RS256"],
        clockTolerance: 0,
      });
    } catch (error) {
      const why =
        error instanceof joseErrors.JWTExpired
          ? "have expired"
          : error instanceof joseErrors.JWTClaimValidationFailed && error.claim === "aud"
            ? "audience is incorrect (https://cognitiveservices.azure.com)"
            : "is invalid";
      throw azureError(
        401,
        "401",
        `Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired. (This token ${why}.)`,
      );
    }
  }
}

/** A fresh local API key, like the two keys of an Azure OpenAI resource. */
export function randomApiKey(): string {
  return randomBytes(16).toString("hex");
}

/** Compares secrets in constant time (for equal lengths), so timing does not reveal how much of a key matched. */
export function safeEqual(supplied: string, expected: string): boolean {
  const suppliedBytes = Buffer.from(supplied);
  const expectedBytes = Buffer.from(expected);
  return suppliedBytes.length === expectedBytes.length && timingSafeEqual(suppliedBytes, expectedBytes);
}

export interface AuthSettings {
  apiKey: string;
  disableKeyAuth: boolean;
}

/**
 * Authenticates a data-plane request the way Azure OpenAI does: `api-key`, or `Authorization:
 * Bearer` with an Entra token, or (v1 paths only) the API key as a Bearer token.
 * @throws SimulatorHttpError 401 (missing or wrong credentials) or 403 (keys disabled).
 */
export async function authenticate(
  headers: { "api-key"?: string | string[] | undefined; authorization?: string | undefined },
  isV1: boolean,
  settings: AuthSettings,
  authority: TokenAuthority,
): Promise<AuthMode> {
  const apiKeyHeader = headers["api-key"];
  const apiKey = Array.isArray(apiKeyHeader) ? apiKeyHeader[0] : apiKeyHeader;
  const authorization = headers.authorization;
  const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();

  if (apiKey !== undefined) {
    if (settings.disableKeyAuth) throw keysDisabled();
    if (!safeEqual(apiKey, settings.apiKey)) throw invalidKey();
    return "api-key";
  }
  if (bearer !== undefined) {
    // Azure accepts the key as a Bearer token on v1 paths, which is how the plain OpenAI client sends it.
    if (isV1 && !looksLikeJwt(bearer)) {
      if (settings.disableKeyAuth) throw keysDisabled();
      if (!safeEqual(bearer, settings.apiKey)) throw invalidKey();
      return "bearer-key";
    }
    await authority.verify(bearer);
    return "entra";
  }
  throw azureError(
    401,
    "401",
    "Access denied due to missing subscription key or token. Make sure to include an 'api-key' header or an 'Authorization: Bearer' token when making requests.",
  );
}

function looksLikeJwt(token: string): boolean {
  return token.split(".").length === 3 && token.startsWith("eyJ");
}

function invalidKey() {
  return azureError(
    401,
    "401",
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
  );
}

function keysDisabled() {
  return azureError(403, "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.");
}

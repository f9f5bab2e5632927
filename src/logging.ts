/**
 * Logging that can't leak secrets. Handlers log through the invocation context; services take a
 * Logger so they stay free of @azure/functions. Every line passes through redactSecrets first, so
 * an upstream error that echoes a header, or a connection string in an exception, is masked.
 */

/** The subset of InvocationContext's logging methods the services use. */
export interface Logger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

const SECRET_PATTERNS: readonly RegExp[] = [
  // JWTs (Entra tokens): three base64url parts, the first two starting with '{"' encoded.
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  /(Bearer\s+)[^\s"',;]+/gi,
  /((?:api-key|apikey|api_key|x-functions-key|code)["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
  /((?:AccountKey|SharedAccessSignature|sig)=)[^;&\s"']+/gi,
];

/** Masks bearer tokens, JWTs, API keys, storage account keys and SAS signatures in text. */
export function redactSecrets(text: string, knownSecrets: readonly string[] = []): string {
  let result = text;
  for (const secret of knownSecrets) {
    if (secret.length >= 8) result = result.split(secret).join("[REDACTED]");
  }
  for (const pattern of SECRET_PATTERNS) {
    result = result.replace(pattern, (match, prefix?: unknown) =>
      typeof prefix === "string" && match.startsWith(prefix) ? `${prefix}[REDACTED]` : "[REDACTED]",
    );
  }
  return result;
}

/**
 * Wraps a logger (usually the InvocationContext) so every argument is redacted.
 * @param knownSecrets exact values to mask too, such as the configured API key.
 */
export function createSafeLogger(target: Logger, knownSecrets: readonly string[] = []): Logger {
  const clean = (args: unknown[]) => args.map((arg) => redactSecrets(formatArg(arg), knownSecrets));
  return {
    info: (...args) => target.info(...clean(args)),
    warn: (...args) => target.warn(...clean(args)),
    error: (...args) => target.error(...clean(args)),
  };
}

function formatArg(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (arg instanceof Error) return arg.stack ?? `${arg.name}: ${arg.message}`;
  try {
    return JSON.stringify(arg);
  } catch {
    return String(arg);
  }
}

/**
 * A logger for work that outlives its handler, such as a streamed response body: it writes to the
 * invocation context until `detach()` (call it when the handler returns), then to the console,
 * which the Functions worker still collects. Logging through a finished invocation's context only
 * earns a warning from @azure/functions and the line may be dropped.
 */
export function createOutlivingLogger(context: Logger, invocationId: string): Logger & { detach(): void } {
  let target: Logger = context;
  const prefix = `[${invocationId}]`;
  return {
    info: (...args) => target.info(...args),
    warn: (...args) => target.warn(...args),
    error: (...args) => target.error(...args),
    detach() {
      target = {
        info: (...args) => console.info(prefix, ...args),
        warn: (...args) => console.warn(prefix, ...args),
        error: (...args) => console.error(prefix, ...args),
      };
    },
  };
}

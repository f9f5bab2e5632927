/**
 * The console's built files (console/ compiled by tools/console/build-console.ts into dist/console/,
 * and copied to the same place inside the deployment package), answered with their content type,
 * caching that suits hashed names, and a Content-Security-Policy that lets the page load nothing
 * but its own files and talk to nothing but its own origin.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** Where the built console sits under the app's folder, in the repository (tsc build) and in the package alike. */
export const CONSOLE_ASSETS_DIR = "dist/console";

/**
 * No remote script, style, image or connection; no inline script; no framing; no form posts elsewhere.
 * `blob:` for media and images the page makes from bytes it fetched itself (speech audio, PNGs).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/** Built names carry a content hash (`app-1a2b3c4d.js`): such a file never changes, so browsers may keep it for a year. */
const HASHED_NAME = /-[A-Za-z0-9_-]{8,}\.(js|css)$/;

export interface StaticAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/**
 * The file at `requestPath` (relative to the console's root; empty for the page itself).
 * @param assetsDir the built console's folder (default: found from this module).
 */
export async function staticAsset(requestPath: string, acceptEncoding = "", assetsDir = consoleAssetsDir()): Promise<StaticAnswer> {
  const security = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  const relative = requestPath === "" ? "index.html" : requestPath;
  const parts = relative.split("/");
  // Only plain names of files the build wrote: no dot-files, no `..`, nothing outside the folder.
  if (!assetsDir || parts.some((part) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(part))) return notFound(security, assetsDir);
  const file = path.join(assetsDir, ...parts);
  const type = CONTENT_TYPES[path.extname(file)];
  if (!type) return notFound(security, assetsDir);
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return notFound(security, assetsDir);
  }
  // The page is revalidated on every load so a new deployment's hashed files are picked up at once.
  const cache = HASHED_NAME.test(file) ? "public, max-age=31536000, immutable" : "no-cache";
  const headers = { ...security, "content-type": type, "cache-control": cache, vary: "accept-encoding" };
  // The Functions host does not compress answers; the files are text, a third of their size gzipped.
  if (/\bgzip\b/i.test(acceptEncoding))
    return { status: 200, headers: { ...headers, "content-encoding": "gzip" }, body: gzipped(file, body) };
  return { status: 200, headers, body };
}

/** Each file is compressed once per process: the built files never change while it runs. */
const gzipCache = new Map<string, Buffer>();
function gzipped(file: string, body: Buffer): Buffer {
  let compressed = gzipCache.get(file);
  if (!compressed) gzipCache.set(file, (compressed = gzipSync(body, { level: 9 })));
  return compressed;
}

function notFound(security: Record<string, string>, assetsDir: string | undefined): StaticAnswer {
  const message = assetsDir
    ? "Not found. The console's page is /api/console/."
    : `The console is not built: ${CONSOLE_ASSETS_DIR}/ is missing. Run npm start (locally) or npm run package (for Azure), which build it.`;
  return { status: 404, headers: { ...security, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, body: message };
}

/**
 * The built console's folder: `dist/console` under the app's folder (the one with host.json), found
 * by walking up from this module, which sits at another depth in the tsc build (dist/src/...) and in
 * the deployment package (dist/main.js or dist/chunks/...). Undefined when it is not built.
 */
export function consoleAssetsDir(): string | undefined {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "host.json"))) {
      const assets = path.join(dir, CONSOLE_ASSETS_DIR);
      return existsSync(path.join(assets, "index.html")) ? assets : undefined;
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

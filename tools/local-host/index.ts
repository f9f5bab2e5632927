/**
 * `startHost()`: runs the local Functions host for one app as a child process (main.ts, bundled
 * on first use when running from sources) and resolves once it serves, with its URL, port and
 * functions, and stop/kill. A process of its own, as the Functions host is on Azure, so tests and
 * `npm start` can kill it mid-job and a crash in the app never takes the caller down.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FAILED_PREFIX, READY_PREFIX, type HostProcessOptions } from "./host-protocol.js";

export interface StartHostOptions {
  /** The app's built entry file (package.json "main"), e.g. dist/src/index.js. */
  entry: string;
  /** Settings for the app process (local.settings.json Values); merged over this process's env. */
  env?: Record<string, string | undefined>;
  /** Use only `env` (plus PATH) instead of inheriting this process's environment. Default false. */
  isolateEnv?: boolean;
  /** host.json to honour; default: host.json next to the app root (cwd). */
  hostJson?: string;
  /** Functions port; 0 picks a free one. Default 7071. */
  port?: number;
  /** Working directory of the host (the function app root). Default process.cwd(). */
  cwd?: string;
  /** Enforce function keys (off by default locally, as Core Tools). */
  enforceKeys?: boolean;
  /** Keys accepted when enforced: master, the host "default" key, and per-function keys. */
  keys?: { master?: string; default?: string; functions?: Record<string, string> };
  /** Queue lease taken on receive and renewed while running; default 600 s (10 minutes). */
  leaseSeconds?: number;
  /** Container scan period for LogsAndContainerScan blob triggers; default 2000 ms. */
  blobScanIntervalMs?: number;
  /** Overrides the 100 MB request body cap (tests). */
  maxRequestBodyBytes?: number;
  /** Host id for receipts and the internal blob queue; default from AzureFunctionsWebHost__hostid or the app folder. */
  hostId?: string;
  /** Each line the host prints (default: discarded). */
  onLog?: (line: string) => void;
  /** Give up waiting for the ready line after this long; default 30 s. */
  readyTimeoutMs?: number;
  verbose?: boolean;
}

export interface HostFunctionInfo {
  name: string;
  trigger: "http" | "queue" | "blob";
  url?: string;
  methods?: string[];
  authLevel?: string;
  queueName?: string;
  path?: string;
  source?: string;
}

export interface LocalHost {
  url: string;
  port: number;
  functions: HostFunctionInfo[];
  /** The host process (which runs the app too), e.g. to read its CPU time and memory. */
  pid: number;
  /** Graceful stop (SIGTERM): running messages finish or reappear after their lease. */
  stop(): Promise<void>;
  /** SIGKILL, for "host killed mid-job" tests. */
  kill(): Promise<void>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
}

/**
 * Starts the local Functions host for one app as a child process and waits until it serves.
 * @throws Error when the host fails to start (bad app, port in use, storage unreachable) or is
 * not ready within readyTimeoutMs; the message carries the host's reason and last output.
 */
export async function startHost(options: StartHostOptions): Promise<LocalHost> {
  const script = await hostScript();
  const cwd = options.cwd ?? process.cwd();
  const baseEnv: NodeJS.ProcessEnv = options.isolateEnv ? { PATH: process.env.PATH } : { ...process.env };
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  if (options.enforceKeys !== undefined) env.FUNCTIONS_ENFORCE_KEYS = String(options.enforceKeys);
  if (options.keys?.master) env.FUNCTIONS_MASTER_KEY = options.keys.master;
  if (options.keys?.default) env.FUNCTIONS_DEFAULT_KEY = options.keys.default;
  for (const [functionName, key] of Object.entries(options.keys?.functions ?? {})) env[`FUNCTIONS_KEY__${functionName}`] = key;

  const hostJson = options.hostJson ?? path.join(cwd, "host.json");
  const processOptions: HostProcessOptions = {
    entry: path.resolve(cwd, options.entry),
    hostJson,
    port: options.port ?? 7071,
    leaseSeconds: options.leaseSeconds ?? 600,
    blobScanIntervalMs: options.blobScanIntervalMs ?? 2000,
    ...(options.maxRequestBodyBytes !== undefined ? { maxRequestBodyBytes: options.maxRequestBodyBytes } : {}),
    hostId: options.hostId ?? env.AzureFunctionsWebHost__hostid ?? defaultHostId(cwd),
    verbose: options.verbose ?? false,
    exitWithParent: true,
  };
  // stdin stays open, unused: it closes when this process dies, and the host then exits too.
  const child = spawn(process.execPath, [script, JSON.stringify(processOptions)], {
    cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = await waitForReady(child, options.onLog, options.readyTimeoutMs ?? 30_000);
  return {
    url: ready.url,
    port: ready.port,
    functions: ready.functions,
    pid: child.pid!,
    exited,
    stop: () => endChild(child, "SIGTERM", exited),
    kill: () => endChild(child, "SIGKILL", exited),
  };
}

/** Host id as the host derives it: lower-case, letters/digits/dashes, at most 32 characters. */
export function defaultHostId(appRoot: string): string {
  const base = path
    .basename(path.resolve(appRoot))
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-");
  return (base.replace(/^-+|-+$/g, "") || "local-host").slice(0, 32).replace(/-+$/, "");
}

let bundled: Promise<string> | undefined;

/**
 * The host process script: main.js beside this file when running from dist, otherwise (tests
 * running the TypeScript sources) main.ts bundled once with rolldown into node_modules/.cache.
 */
function hostScript(): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return Promise.resolve(path.join(path.dirname(here), "main.js"));
  bundled ??= (async () => {
    const { rolldown } = await import("rolldown");
    const root = findPackageRoot(path.dirname(here));
    const outDir = path.join(root, "node_modules", ".cache", "local-host");
    mkdirSync(outDir, { recursive: true });
    // The host process and its HTTP front door thread (which main.ts starts from beside itself).
    // Packages stay imports (they resolve from the project's node_modules); only our files are bundled.
    const bundle = await rolldown({
      input: { main: path.join(path.dirname(here), "main.ts"), "http-front-thread": path.join(path.dirname(here), "http-front-thread.ts") },
      platform: "node",
      transform: { target: "node20" },
      external: (id) => !id.startsWith(".") && !path.isAbsolute(id),
      logLevel: "silent",
    });
    let files: { fileName: string; contents: string | Uint8Array }[];
    try {
      const { output } = await bundle.generate({
        format: "esm",
        entryFileNames: "[name].mjs",
        chunkFileNames: "[name]-[hash].mjs",
        sourcemap: "inline",
      });
      files = output.map((file) => ({ fileName: file.fileName, contents: file.type === "chunk" ? file.code : file.source }));
    } finally {
      await bundle.close();
    }
    const hash = createHash("sha256");
    for (const file of files) hash.update(file.fileName).update(file.contents);
    // Named by content: parallel test processes share one folder and stale versions are never reused.
    const dir = path.join(outDir, hash.digest("hex").slice(0, 16));
    if (!existsSync(dir)) {
      const temporary = `${dir}.${process.pid}.tmp`;
      mkdirSync(temporary, { recursive: true });
      for (const file of files) writeFileSync(path.join(temporary, file.fileName), file.contents);
      try {
        renameSync(temporary, dir);
      } catch (error) {
        // Another test process wrote the same folder first.
        if (!existsSync(dir)) throw error;
        rmSync(temporary, { recursive: true, force: true });
      }
    }
    return path.join(dir, "main.mjs");
  })();
  return bundled;
}

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${start}; run the host from the project.`);
    dir = parent;
  }
  return dir;
}

interface ReadyInfo {
  url: string;
  port: number;
  functions: HostFunctionInfo[];
}

function waitForReady(child: ChildProcess, onLog: ((line: string) => void) | undefined, timeoutMs: number): Promise<ReadyInfo> {
  return new Promise((resolve, reject) => {
    const recent: string[] = [];
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${message}\n--- host output (last lines) ---\n${recent.join("\n")}`));
    };
    const timer = setTimeout(() => fail(`The local host was not ready after ${timeoutMs} ms.`), timeoutMs);
    const onLine = (line: string) => {
      recent.push(line);
      if (recent.length > 40) recent.shift();
      if (line.startsWith(READY_PREFIX)) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(READY_PREFIX.length)) as ReadyInfo);
        return;
      }
      if (line.startsWith(FAILED_PREFIX)) {
        const { message } = JSON.parse(line.slice(FAILED_PREFIX.length)) as { message: string };
        return fail(`The local host could not start: ${message}`);
      }
      onLog?.(line);
    };
    forEachLine(child.stdout, onLine);
    forEachLine(child.stderr, onLine);
    child.once("exit", (code, signal) => fail(`The local host exited (code ${code}, signal ${signal}) before it was ready.`));
  });
}

function forEachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let buffered = "";
  stream?.on("data", (data: Buffer) => {
    buffered += data.toString("utf8");
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, newline).replace(/\r$/, ""));
      buffered = buffered.slice(newline + 1);
    }
  });
}

function endChild(child: ChildProcess, signal: NodeJS.Signals, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  child.kill(signal);
  return exited.then(() => clearTimeout(timer));
}

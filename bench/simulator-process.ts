/**
 * The simulator in a process of its own (its CLI), for benchmarks that load it heavily: sharing
 * the load generator's event loop would delay both, and the "direct" baseline would then measure
 * the load generator's backlog rather than the simulator.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { createInterface } from "node:readline";
import { REPO_ROOT } from "../tools/repo-root.js";
import { createSimulatorControl, type SimulatorControl } from "../tools/simulator/index.js";

export interface SimulatorProcess {
  url: string;
  apiKey: string;
  identity: { endpoint: string; header: string };
  control: SimulatorControl;
  /** The extra resources asked for (`--resource`), in their order; the identity's tokens work on each. */
  resources: { name: string; url: string; apiKey: string; control: SimulatorControl }[];
  pid: number;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_IN_MS = 15_000;

/**
 * Starts `dist/tools/simulator/cli.js` on a free loopback port and reads its settings from the
 * lines it prints.
 * @param options.resources `--resource` values (`NAME[:FILE]`): more Azure OpenAI resources, on free ports.
 * @throws Error when the process exits or stays silent before it is ready.
 */
export async function startSimulatorProcess(options: { resources?: string[] } = {}): Promise<SimulatorProcess> {
  const apiKey = randomBytes(16).toString("hex");
  const args = ["--port", "0", "--api-key", apiKey, ...(options.resources ?? []).flatMap((resource) => ["--resource", resource])];
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "dist/tools/simulator/cli.js"), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  // Not left behind when the benchmark itself dies.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.removeListener("exit", killOnExit));
  const settings = new Map<string, string>();
  const resources: SimulatorProcess["resources"] = [];
  const lines = createInterface({ input: child.stdout });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the simulator process printed no settings within 15 s")), STARTUP_TIMEOUT_IN_MS);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`the simulator process could not start: ${error.message}`));
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the simulator process exited (${signal ?? `code ${code}`}) before it was ready`));
      });
      lines.on("line", (line) => {
        const setting = /^\s+(\w+)=(\S+)$/.exec(line);
        if (setting) settings.set(setting[1]!, setting[2]!);
        const resource = /^Resource (\S+) (\S+) (\S+)$/.exec(line);
        if (resource)
          resources.push({ name: resource[1]!, url: resource[2]!, apiKey: resource[3]!, control: createSimulatorControl(resource[2]!) });
        // The control API line comes last, after every setting.
        if (line.startsWith("Control API:")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const url = settings.get("AZURE_OPENAI_ENDPOINT");
  const endpoint = settings.get("IDENTITY_ENDPOINT");
  const header = settings.get("IDENTITY_HEADER");
  if (!url || !endpoint || !header) {
    child.kill("SIGKILL");
    throw new Error(`the simulator process printed incomplete settings: ${[...settings.keys()].join(", ")}`);
  }
  return {
    url,
    apiKey,
    identity: { endpoint, header },
    control: createSimulatorControl(url),
    resources,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL if the process has not exited within 5 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

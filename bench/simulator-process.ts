/**
 * The simulator in a process of its own (its CLI), for benchmarks that load it heavily: sharing
 * the load generator's event loop would delay both, and the "direct" baseline would then measure
 * the load generator's backlog rather than the simulator.
 */
import { spawn } from "node:child_process";
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
  pid: number;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_IN_MS = 15_000;

/**
 * Starts `dist/tools/simulator/cli.js` on a free loopback port and reads its settings from the
 * lines it prints.
 * @throws Error when the process exits or stays silent before it is ready.
 */
export async function startSimulatorProcess(): Promise<SimulatorProcess> {
  const apiKey = randomBytes(16).toString("hex");
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "dist/tools/simulator/cli.js"), "--port", "0", "--api-key", apiKey], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const settings = new Map<string, string>();
  const lines = createInterface({ input: child.stdout });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the simulator process printed no settings within 15 s")), STARTUP_TIMEOUT_IN_MS);
      child.once("exit", (code) => reject(new Error(`the simulator process exited (code ${code}) before it was ready`)));
      lines.on("line", (line) => {
        const setting = /^\s+(\w+)=(\S+)$/.exec(line);
        if (setting) settings.set(setting[1]!, setting[2]!);
        // The control API line comes last, after every setting.
        if (line.startsWith("Control API:")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    child.kill();
    throw error;
  }
  const url = settings.get("AZURE_OPENAI_ENDPOINT");
  const endpoint = settings.get("IDENTITY_ENDPOINT");
  const header = settings.get("IDENTITY_HEADER");
  if (!url || !endpoint || !header) {
    child.kill();
    throw new Error(`the simulator process printed incomplete settings: ${[...settings.keys()].join(", ")}`);
  }
  return {
    url,
    apiKey,
    identity: { endpoint, header },
    control: createSimulatorControl(url),
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

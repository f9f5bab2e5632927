/**
 * The peer gateway (bench/fixtures/peer-gateway.ts) in a process of its own, as a gateway runs:
 * its CPU time and memory are read from /proc like the local host's.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { REPO_ROOT } from "../tools/repo-root.js";

export interface PeerGateway {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * @throws Error when the gateway exits or prints no address within 15 s.
 */
export async function startPeerGateway(): Promise<PeerGateway> {
  // stdin stays open, unused: the gateway exits when it closes (this process died).
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "dist/bench/fixtures/peer-gateway.js")], {
    stdio: ["pipe", "pipe", "inherit"],
    // Its own environment: nothing of the bench's (no keys) leaks into the gateway's logs.
    env: { PATH: process.env.PATH, NODE_ENV: "production" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the peer gateway printed no address within 15 s")), 15_000);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the peer gateway exited (${signal ?? `code ${code}`}) before it served`));
      });
      createInterface({ input: child.stdout }).on("line", (line) => {
        const address = /^listening on (\S+)$/.exec(line)?.[1];
        if (address) {
          clearTimeout(timer);
          resolve(address);
        }
      });
    });
    return {
      url,
      pid: child.pid!,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await exited;
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

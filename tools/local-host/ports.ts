import net from "node:net";

/**
 * Checks that a loopback port is free before anything is started on it.
 * @throws Error naming the port and the setting that changes it when the port is taken.
 */
export async function assertPortFree(port: number, what: string, setting: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === "EADDRINUSE"
            ? `Port ${port} (${what}) is already in use. Stop the process using it, or set ${setting} in local.settings.json to another port.`
            : `Cannot use port ${port} (${what}): ${error.message}. Set ${setting} to another port.`,
        ),
      );
    });
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

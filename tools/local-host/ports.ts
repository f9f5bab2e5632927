/**
 * Port checks before `npm start` starts anything: a port already taken fails at once with the
 * setting that moves it, instead of a half-started stack and a confusing error from one part.
 */
import net from "node:net";

/**
 * Checks that a loopback port is free before anything is started on it.
 * @param fix what to do instead of moving the port, when a setting does not move it (Azurite's
 *   fixed ports); default: set `setting` in local.settings.json to another port.
 * @throws Error naming the port and the setting that changes it when the port is taken.
 */
export async function assertPortFree(port: number, what: string, setting: string, fix?: string): Promise<void> {
  if (port === 0) return;
  const remedy = fix ?? `set ${setting} in local.settings.json to another port`;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === "EADDRINUSE"
            ? `Port ${port} (${what}) is already in use (is another "npm start" still running?). Stop the process using it, or ${remedy}.`
            : `Cannot use port ${port} (${what}): ${error.message}. ${remedy[0]!.toUpperCase()}${remedy.slice(1)}.`,
        ),
      );
    });
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

/**
 * `npm start`: the whole app offline with one command. Reads local.settings.json (created from
 * the sample when missing), checks ports, starts Azurite, the simulator and the Functions host
 * (see stack.ts), prints what a user needs, and stops everything on Ctrl-C.
 */
import path from "node:path";
import { effectiveSettings, loadLocalSettings, sampleSettingNames } from "./local-settings.js";
import { assertPortFree } from "./ports.js";
import { DEFAULT_PORTS, startStack } from "./stack.js";
import { readySummary } from "./ready-summary.js";
import { buildConsole } from "../console/build-console.js";

async function main(): Promise<void> {
  const root = process.cwd();
  const local = loadLocalSettings(root);
  if (local.created) console.log(`Created ${path.basename(local.file)} from local.settings.sample.json (edit it to change settings).`);
  // Shell variables win over local.settings.json, also for known settings the file leaves out.
  const settings = effectiveSettings(local.values, process.env, sampleSettingNames(root));
  const verbose = /^(1|true)$/i.test(process.env.LOCAL_HOST_VERBOSE ?? "");

  const functionsPort = portSetting("FUNCTIONS_PORT", settings.FUNCTIONS_PORT ?? local.localHttpPort ?? DEFAULT_PORTS.functions);
  const simulatorPort = portSetting("SIMULATOR_PORT", settings.SIMULATOR_PORT ?? DEFAULT_PORTS.simulator);
  await assertPortFree(functionsPort, "Functions host", "FUNCTIONS_PORT");
  const storage = settings.AzureWebJobsStorage;
  const usesEmulator = !settings.AzureWebJobsStorage__blobServiceUri && (!storage || /UseDevelopmentStorage=true/i.test(storage));
  if (usesEmulator) {
    for (const [port, service] of [
      [DEFAULT_PORTS.blob, "blob"],
      [DEFAULT_PORTS.queue, "queue"],
      [DEFAULT_PORTS.table, "table"],
    ] as const) {
      await assertPortFree(
        port,
        `Azurite ${service}`,
        "AzureWebJobsStorage",
        "to use the storage already listening there, set AzureWebJobsStorage in local.settings.json to its full connection string (npm start runs its own Azurite only for UseDevelopmentStorage=true)",
      );
    }
  }
  if (!settings.AZURE_OPENAI_ENDPOINT) await assertPortFree(simulatorPort, "Azure OpenAI simulator", "SIMULATOR_PORT");

  // The web console is served by the app from dist/console/; build it before the host loads the app.
  await buildConsole(root);
  console.log("Starting Azurite, the Azure OpenAI simulator and the Functions host...");
  const stack = await startStack({
    root,
    settings,
    functionsPort,
    simulatorPort,
    azurite: {
      blobPort: DEFAULT_PORTS.blob,
      queuePort: DEFAULT_PORTS.queue,
      tablePort: DEFAULT_PORTS.table,
      location: path.join(root, ".azurite"),
    },
    useFunc: "auto",
    hostOptions: { verbose },
    onLog: (source, line) => {
      if (source !== "azurite" || verbose) console.log(line);
    },
  });
  console.log(readySummary(stack));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the Functions host, the simulator and Azurite...`);
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("Ctrl-C"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

/** @throws Error naming the setting when the value is not a TCP port number. */
function portSetting(name: string, value: string | number): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`${name} must be a port number (1-65535), got "${value}"; fix it in local.settings.json.`);
  }
  return port;
}

main().catch((error: unknown) => {
  console.error(`\nnpm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

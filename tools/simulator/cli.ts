#!/usr/bin/env node
/**
 * `npm run simulator -- [--port 4010] [--config deployments.json] [--api-key KEY]
 *   [--disable-key-auth] [--seed N] [--token-lifetime SECONDS] [--no-latency] [--resource NAME[:FILE]]...`
 *
 * Runs the simulator as a process of its own, for trying the app by hand and for benchmarks that
 * keep it off their own CPU, and prints the settings the app needs to use it (endpoint, key,
 * identity endpoint and header) with the deployments it serves, then one `Resource` line for
 * each extra resource (name, endpoint, key), which share the one identity endpoint.
 */
import { parseArgs } from "node:util";
import { NO_LATENCY, loadDeploymentsFile, start, type ResourceOptions, type SimulatorOptions } from "./index.js";

const USAGE = `Usage: npm run simulator -- [options]
  --port N               port on 127.0.0.1 (default 4010; 0 picks a free one)
  --config FILE          deployments file (default: the shipped set)
  --api-key KEY          the accepted API key (default: a random one, printed)
  --disable-key-auth     accept only Entra tokens (Azure's disableLocalAuth)
  --seed N               seed of outputs, latencies and faults (default 0)
  --token-lifetime S     lifetime of identity endpoint tokens in seconds (default 3600)
  --no-latency           answer as fast as possible
  --resource NAME[:FILE] one more Azure OpenAI resource (repeatable): its own port (--port + 1, + 2, ...;
                         free ones with --port 0), key and deployments (FILE, default the shipped set);
                         the same identity endpoint's tokens work on it
  --help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "4010" },
      config: { type: "string" },
      "api-key": { type: "string" },
      "disable-key-auth": { type: "boolean", default: false },
      seed: { type: "string" },
      "token-lifetime": { type: "string" },
      "no-latency": { type: "boolean", default: false },
      resource: { type: "string", multiple: true },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected 0-65535, got ${values.port}`);
  const options: SimulatorOptions = { port, disableKeyAuth: values["disable-key-auth"] };
  if (values.config) options.deployments = await loadDeploymentsFile(values.config);
  if (values["api-key"]) options.apiKey = values["api-key"];
  if (values.seed !== undefined) options.seed = Number(values.seed);
  if (values["token-lifetime"] !== undefined) options.tokenLifetimeSeconds = Number(values["token-lifetime"]);
  if (values["no-latency"]) options.latency = NO_LATENCY;
  if (values.resource?.length) options.resources = await resourceOptions(values.resource, port, options.disableKeyAuth === true);

  const sim = await start(options);
  const deployments = await sim.control.deployments();
  console.log(`Azure OpenAI simulator listening on ${sim.url}`);
  console.log(`Identity endpoint: ${sim.identity.endpoint}`);
  console.log("");
  console.log("Settings for the app (a local, randomly generated key unless --api-key was given):");
  console.log(`  AZURE_OPENAI_ENDPOINT=${sim.url}`);
  console.log(`  AZURE_OPENAI_API_KEY=${sim.apiKey}`);
  console.log(`  IDENTITY_ENDPOINT=${sim.identity.endpoint}`);
  console.log(`  IDENTITY_HEADER=${sim.identity.header}`);
  console.log("");
  console.log(`Deployments: ${deployments.map((deployment) => `${deployment.name} (${deployment.capability})`).join(", ")}`);
  for (const resource of sim.resources) {
    const served = await resource.control.deployments();
    // One line each, `Resource NAME URL KEY`, for people and for bench/simulator-process.ts alike.
    console.log(`Resource ${resource.name} ${resource.url} ${resource.apiKey}`);
    console.log(`  deployments: ${served.map((deployment) => deployment.name).join(", ")}; control API: ${resource.url}/_simulator/`);
  }
  console.log(`Control API: ${sim.url}/_simulator/ (journal, counters, reset, deployments). Ctrl+C stops.`);

  const stop = () => {
    void sim.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/**
 * `--resource NAME[:FILE]` values: split at the first ':' (so a Windows path keeps its drive), on
 * ports after the primary's so that they are predictable, or free ones when the primary's is.
 */
async function resourceOptions(values: string[], port: number, disableKeyAuth: boolean): Promise<ResourceOptions[]> {
  return Promise.all(
    values.map(async (value, i) => {
      const colon = value.indexOf(":");
      const name = colon < 0 ? value : value.slice(0, colon);
      const file = colon < 0 ? undefined : value.slice(colon + 1);
      return {
        name,
        port: port === 0 ? 0 : port + i + 1,
        disableKeyAuth,
        ...(file ? { deployments: await loadDeploymentsFile(file) } : {}),
      };
    }),
  );
}

main().catch((error: unknown) => {
  console.error(`simulator: ${(error as Error).message}`);
  process.exit(1);
});

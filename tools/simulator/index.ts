/**
 * Offline Azure OpenAI simulator: the data-plane REST API (dated and v1 paths), Entra ID tokens
 * from a local App Service managed identity endpoint, quotas, faults and a control API.
 * Imports nothing from src/ but the list of api-versions Azure serves (src/openai/api-versions.ts,
 * which the app checks its settings against too); never deployed. See README.md beside this file.
 */
import { randomApiKey } from "./auth.js";
import { createSimulatorControl, type SimulatorControl } from "./control-client.js";
import { DEFAULT_DEPLOYMENTS, latencyProblems, validateDeployments, type DeploymentConfig, type LatencyConfig } from "./deployments.js";
import { randomIdentityHeader } from "./identity.js";
import { SimulatorServer } from "./server.js";

export interface SimulatorOptions {
  /** TCP port on 127.0.0.1; default 0 (an ephemeral port). */
  port?: number;
  /** Default: the shipped set (gpt-4o-mini, text-embedding-3-small, whisper, tts, dall-e-3). */
  deployments?: DeploymentConfig[];
  /** The accepted API key; default: a random key made at start (see `Simulator.apiKey`). */
  apiKey?: string;
  /** Refuse API keys, accept only Entra tokens (Azure's `disableLocalAuth`). Default false. */
  disableKeyAuth?: boolean;
  /** Seed of every generated output, latency sample and fault decision. Default 0. */
  seed?: number;
  /** Latency for every deployment that does not set its own (e.g. `NO_LATENCY` in tests). */
  latency?: Partial<LatencyConfig>;
  /** Lifetime of tokens from the identity endpoint; default 3600 s. Short values let tests see expiry. */
  tokenLifetimeSeconds?: number;
  /** The IDENTITY_HEADER secret; default random. */
  identityHeader?: string;
  /** Journal entries kept (oldest dropped); default 10000. */
  journalLimit?: number;
  /** Keep request bodies in the journal; default true (benchmarks may turn it off). */
  journalBodies?: boolean;
}

export interface Simulator {
  /** `http://127.0.0.1:PORT`: the Azure OpenAI endpoint. */
  url: string;
  apiKey: string;
  /** Values for IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service managed identity protocol). */
  identity: { endpoint: string; header: string };
  control: SimulatorControl;
  stop(): Promise<void>;
}

/**
 * Starts the simulator on 127.0.0.1.
 * @throws Error when an option or deployment is malformed, or the port is taken.
 */
export async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const deployments = validateDeployments(options.deployments ?? DEFAULT_DEPLOYMENTS);
  const problems = latencyProblems(options.latency);
  if (problems.length) throw new Error(`simulator options: ${problems.join("; ")}`);
  const apiKey = options.apiKey ?? randomApiKey();
  const server = new SimulatorServer({
    port: options.port ?? 0,
    deployments,
    apiKey,
    disableKeyAuth: options.disableKeyAuth ?? false,
    seed: options.seed ?? 0,
    latency: options.latency ?? {},
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
    identityHeader: options.identityHeader ?? randomIdentityHeader(),
    journalLimit: options.journalLimit ?? 10_000,
    journalBodies: options.journalBodies ?? true,
  });
  await server.listen();
  return {
    url: server.baseUrl,
    apiKey,
    identity: { endpoint: server.identityEndpoint, header: server.settings.identityHeader },
    control: createSimulatorControl(server.baseUrl),
    stop: () => server.close(),
  };
}

export {
  createSimulatorControl,
  type SimulatorControl,
  type CountersSnapshot,
  type JournalQuery,
  type DeploymentPatch,
  type LatencyPatch,
} from "./control-client.js";
export {
  DEFAULT_DEPLOYMENTS,
  DEFAULT_LATENCY,
  NO_LATENCY,
  loadDeploymentsFile,
  type Capability,
  type DeploymentConfig,
  type FaultKind,
  type FaultRule,
  type LatencyConfig,
  type Operation,
} from "./deployments.js";
export type { DeploymentCounters, JournalEntry } from "./context.js";
export type { IssuedToken } from "./auth.js";
export { FAULT_HEADER } from "./faults.js";
export { MAX_AUDIO_BYTES } from "./http-io.js";
export { wavFile, synthesize, SPEECH_SAMPLE_RATE } from "./speech.js";

/**
 * Offline Azure OpenAI simulator: the data-plane REST API (dated and v1 paths), Entra ID tokens
 * from a local App Service managed identity endpoint, quotas, faults and a control API, for one
 * Azure OpenAI resource or several at once (each on its own port, one identity for all).
 * Imports nothing from src/ but the list of api-versions Azure serves (src/openai/api-versions.ts,
 * which the app checks its settings against too); never deployed. See README.md beside this file.
 */
import { TokenAuthority, randomApiKey } from "./auth.js";
import { createSimulatorControl, type SimulatorControl } from "./control-client.js";
import { DEFAULT_DEPLOYMENTS, latencyProblems, validateDeployments, type DeploymentConfig, type LatencyConfig } from "./deployments.js";
import { randomIdentityHeader } from "./identity.js";
import { SimulatorServer } from "./server.js";

export interface SimulatorOptions {
  /** TCP port on 127.0.0.1; default 0 (an ephemeral port). */
  port?: number;
  /** Default: the shipped set (gpt-4o-mini, text-embedding-3-small, whisper, the gpt-4o transcribe models, tts, dall-e-3, ...). */
  deployments?: DeploymentConfig[];
  /** The accepted API key; default: a random key made at start (see `Simulator.apiKey`). */
  apiKey?: string;
  /** Refuse API keys, accept only Entra tokens (Azure's `disableLocalAuth`). Default false. */
  disableKeyAuth?: boolean;
  /** Seed of every generated output, latency sample and fault decision. Default 0. */
  seed?: number;
  /** Latency for every deployment that does not set its own (e.g. `NO_LATENCY` in tests); extra resources too, unless they set theirs. */
  latency?: Partial<LatencyConfig>;
  /** Lifetime of tokens from the identity endpoint; default 3600 s. Short values let tests see expiry. */
  tokenLifetimeSeconds?: number;
  /** The IDENTITY_HEADER secret; default random. */
  identityHeader?: string;
  /** Journal entries kept (oldest dropped), per resource; default 10000. */
  journalLimit?: number;
  /** Keep request bodies in the journal; default true (benchmarks may turn it off). */
  journalBodies?: boolean;
  /**
   * More Azure OpenAI resources beside the primary one (`url`), each on its own port with its own
   * deployments, key, quotas, faults, journal, counters and control API, all trusting the one
   * identity endpoint's tokens: the backends of multi-resource routing.
   */
  resources?: ResourceOptions[];
}

/** One more simulated Azure OpenAI resource (an `https://NAME.openai.azure.com` of its own). */
export interface ResourceOptions {
  /** 2-64 letters, digits or '-', unique; names it in `Simulator.resources` and, unless `region` is given, in `x-ms-region`. */
  name: string;
  /** TCP port on 127.0.0.1; default 0 (an ephemeral port). */
  port?: number;
  /** Default: the shipped set. */
  deployments?: DeploymentConfig[];
  /** Default: a random key of its own, as each Azure resource has its own keys. */
  apiKey?: string;
  /** Refuse API keys on this resource, accept only Entra tokens. Default false. */
  disableKeyAuth?: boolean;
  /** Default: the simulator's `latency`. */
  latency?: Partial<LatencyConfig>;
  /** The `x-ms-region` header of its answers; default its name. */
  region?: string;
}

/** A running resource: where it listens, its key and its control API. */
export interface SimulatorResource {
  name: string;
  /** `http://127.0.0.1:PORT`: its Azure OpenAI endpoint. */
  url: string;
  apiKey: string;
  control: SimulatorControl;
}

export interface Simulator {
  /** `http://127.0.0.1:PORT`: the (primary) Azure OpenAI endpoint. */
  url: string;
  apiKey: string;
  /** Values for IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service managed identity protocol); its tokens work on every resource. */
  identity: { endpoint: string; header: string };
  control: SimulatorControl;
  /** The `resources` asked for, in their order (the primary resource is not among them). */
  resources: SimulatorResource[];
  /** Stops the primary resource and every other one. */
  stop(): Promise<void>;
}

const RESOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{1,63}$/;

/**
 * Starts the simulator on 127.0.0.1: the primary resource and any others asked for.
 * @throws Error when an option or deployment is malformed, or a port is taken (nothing is left listening then).
 */
export async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const deployments = validateDeployments(options.deployments ?? DEFAULT_DEPLOYMENTS);
  const problems = latencyProblems(options.latency);
  const resources = (options.resources ?? []).map((resource, i) => {
    const where = `resources[${i}]`;
    if (typeof resource.name !== "string" || !RESOURCE_NAME.test(resource.name))
      problems.push(`${where}.name: 2-64 letters, digits or '-', starting with a letter or digit`);
    if (options.resources!.findIndex((other) => other.name === resource.name) !== i) problems.push(`${where}.name: ${resource.name} twice`);
    problems.push(...latencyProblems(resource.latency).map((problem) => `${where}.${problem}`));
    return { ...resource, deployments: validateDeployments(resource.deployments ?? DEFAULT_DEPLOYMENTS, `${where}.deployments`) };
  });
  if (problems.length) throw new Error(`simulator options: ${problems.join("; ")}`);

  const authority = await TokenAuthority.create(options.tokenLifetimeSeconds ?? 3600);
  const shared = { seed: options.seed ?? 0, journalLimit: options.journalLimit ?? 10_000, journalBodies: options.journalBodies ?? true };
  const apiKey = options.apiKey ?? randomApiKey();
  const primary = new SimulatorServer(
    {
      ...shared,
      region: "Simulated Region",
      port: options.port ?? 0,
      deployments,
      apiKey,
      disableKeyAuth: options.disableKeyAuth ?? false,
      latency: options.latency ?? {},
      identityHeader: options.identityHeader ?? randomIdentityHeader(),
    },
    authority,
  );
  const others = resources.map(
    (resource) =>
      new SimulatorServer(
        {
          ...shared,
          resourceName: resource.name,
          region: resource.region ?? resource.name,
          port: resource.port ?? 0,
          deployments: resource.deployments,
          apiKey: resource.apiKey ?? randomApiKey(),
          disableKeyAuth: resource.disableKeyAuth ?? false,
          latency: resource.latency ?? options.latency ?? {},
        },
        authority,
      ),
  );
  const servers = [primary, ...others];
  const stop = async () => void (await Promise.all(servers.map((server) => server.close())));
  const listening = await Promise.allSettled(servers.map((server) => server.listen()));
  const failed = listening.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    url: primary.baseUrl,
    apiKey,
    identity: { endpoint: primary.identityEndpoint, header: primary.settings.identityHeader! },
    control: createSimulatorControl(primary.baseUrl),
    resources: others.map((server) => ({
      name: server.settings.resourceName!,
      url: server.baseUrl,
      apiKey: server.settings.apiKey,
      control: createSimulatorControl(server.baseUrl),
    })),
    stop,
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

/**
 * The whole app offline, for integration tests: Azurite + the Azure OpenAI simulator + the local
 * Functions host running the built app (dist/src/index.js, so `npm run build` first; `npm test`
 * does). The app authenticates to the simulator with its real managed-identity code path.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import path from "node:path";
import { startAzurite, type Azurite } from "../../tools/local-host/azurite.js";
import { startHost, type LocalHost, type StartHostOptions } from "../../tools/local-host/index.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { start as startSimulator, type Simulator, type SimulatorOptions } from "../../tools/simulator/index.js";

export interface StackOptions {
  /** App settings over the defaults below (e.g. AZURE_OPENAI_API_STYLE: "dated"). */
  env?: Record<string, string | undefined>;
  /** host.json for the host; default: the project's host.json. */
  hostJson?: string;
  /**
   * The simulator's options, passed through. `resources` starts more Azure OpenAI resources beside
   * the primary one (reach them as `stack.simulator.resources`); the app's default settings still
   * name only the primary, so a routing test sets AZURE_OPENAI_DEPLOYMENTS from their URLs with
   * `envFromSimulator`.
   */
  simulator?: SimulatorOptions;
  /**
   * App settings made from the running simulator (its resources' URLs and keys are known only
   * once it has started), applied after `env`; undefined removes a setting, as in `env`.
   */
  envFromSimulator?: (simulator: Simulator) => Record<string, string | undefined>;
  host?: Partial<StartHostOptions>;
  /** The app's entry file; default: the tsc build, dist/src/index.js. */
  entry?: string;
}

export interface Stack {
  azurite: Azurite;
  /** The primary resource (`url`, `control`), the one identity endpoint and any extra `resources`. */
  simulator: Simulator;
  host: LocalHost;
  /** The settings the app process got. */
  settings: Record<string, string>;
  blobService: BlobServiceClient;
  queueService: QueueServiceClient;
  /** Restarts only the host (same Azurite, same simulator), e.g. after kill(). */
  restartHost(): Promise<LocalHost>;
  stop(): Promise<void>;
}

/**
 * Starts Azurite, the simulator and the local host with the real app.
 * @throws Error from whichever part failed to start, with its output.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const azurite = await startAzurite();
  const simulator = await startSimulator({ ...options.simulator });
  const settings: Record<string, string> = {
    AzureWebJobsStorage: azurite.connectionString,
    AZURE_OPENAI_ENDPOINT: simulator.url,
    IDENTITY_ENDPOINT: simulator.identity.endpoint,
    IDENTITY_HEADER: simulator.identity.header,
    FUNCTIONS_WORKER_RUNTIME: "node",
  };
  for (const [name, value] of Object.entries({ ...options.env, ...options.envFromSimulator?.(simulator) })) {
    if (value === undefined) delete settings[name];
    else settings[name] = value;
  }
  const blobService = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const queueService = QueueServiceClient.fromConnectionString(azurite.connectionString);
  await createResources(blobService, queueService, settings);

  const hostOptions: StartHostOptions = {
    entry: options.entry ?? path.join(REPO_ROOT, "dist/src/index.js"),
    cwd: REPO_ROOT,
    port: 0,
    env: settings,
    isolateEnv: true,
    blobScanIntervalMs: 200,
    ...(options.hostJson ? { hostJson: options.hostJson } : {}),
    ...options.host,
  };
  let host = await startHost(hostOptions).catch(async (error: unknown) => {
    await Promise.allSettled([simulator.stop(), azurite.stop()]);
    throw error;
  });
  const stack: Stack = {
    azurite,
    simulator,
    get host() {
      return host;
    },
    settings,
    blobService,
    queueService,
    async restartHost() {
      await host.stop().catch(() => undefined);
      host = await startHost(hostOptions);
      return host;
    },
    async stop() {
      await host.stop().catch(() => undefined);
      await Promise.allSettled([simulator.stop(), azurite.stop()]);
    },
  };
  return stack;
}

/** The containers and queues the app needs, as `npm start` and the Bicep create them. */
async function createResources(
  blobService: BlobServiceClient,
  queueService: QueueServiceClient,
  settings: Record<string, string>,
): Promise<void> {
  const containers = [
    settings.AUDIO_CONTAINER ?? "audio",
    settings.TRANSCRIPTS_CONTAINER ?? "transcripts",
    settings.EMBEDDINGS_CONTAINER ?? "embeddings",
    settings.SPEECH_CONTAINER ?? "speech",
    settings.IMAGES_CONTAINER ?? "images",
  ];
  const queues = [settings.EMBEDDINGS_QUEUE ?? "embeddings", settings.SPEECH_QUEUE ?? "speech", settings.IMAGES_QUEUE ?? "images"];
  await Promise.all([
    ...containers.map((name) => blobService.getContainerClient(name).createIfNotExists()),
    ...queues.flatMap((queue) => [
      queueService.getQueueClient(queue).createIfNotExists(),
      queueService.getQueueClient(`${queue}-poison`).createIfNotExists(),
    ]),
  ]);
}

/**
 * `npm start`: the whole app offline with one command. Reads local.settings.json (created from
 * the sample when missing), checks ports, starts Azurite, the simulator and the Functions host
 * (see stack.ts), prints what a user needs, and stops everything on Ctrl-C.
 */
import path from "node:path";
import { effectiveSettings, loadLocalSettings, sampleSettingNames } from "./local-settings.js";
import { assertPortFree } from "./ports.js";
import { DEFAULT_PORTS, startStack, type Stack } from "./stack.js";
import { KEY_SETTINGS } from "./function-keys.js";
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
  printSummary(stack);

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

function printSummary(stack: Stack): void {
  const settings = stack.settings;
  const base = stack.functionsUrl;
  const keyHeader = /^(1|true)$/i.test(settings[KEY_SETTINGS.enforce] ?? "")
    ? ` -H "x-functions-key: <${KEY_SETTINGS.hostDefault} from local.settings.json>"`
    : "";
  const audio = settings.AUDIO_CONTAINER ?? "audio";
  const queue = settings.EMBEDDINGS_QUEUE ?? "embeddings";
  const eventGrid = (settings.AUDIO_BLOB_TRIGGER_SOURCE ?? "").toLowerCase() === "eventgrid";
  const keyNote = keyHeader ? ` (enter ${KEY_SETTINGS.hostDefault} from local.settings.json as its function key)` : "";
  const lines = [
    "",
    // First, because it is the one URL a new user needs: every capability and every job from a browser.
    `Console: ${base}/api/console/  <- open this in a browser${keyNote}`,
    "",
    `Ready (${stack.runtime === "func" ? "Azure Functions Core Tools" : "local Functions host"}).`,
    "",
    `  Functions:        ${base}`,
    ...stack.functions.map((fn) =>
      fn.trigger === "http"
        ? `    ${fn.name.padEnd(22)} [${(fn.methods ?? []).join(",")}] ${fn.url}`
        : `    ${fn.name.padEnd(22)} ${fn.trigger} trigger on ${fn.trigger === "queue" ? fn.queueName : `${fn.path} (${fn.source})`}`,
    ),
    `  Health:           ${base}/api/health`,
    ...(stack.azurite
      ? [`  Azurite:          blob ${stack.azurite.blobUrl}  queue ${stack.azurite.queueUrl}  (data in .azurite/)`]
      : ["  Storage:          from AzureWebJobsStorage"]),
    stack.simulatorUrl
      ? `  Azure OpenAI:     simulator at ${stack.simulatorUrl} (managed identity via its identity endpoint)`
      : `  Azure OpenAI:     ${settings.AZURE_OPENAI_ENDPOINT}`,
    `  Containers:       ${stack.containers.join(", ")}`,
    `  Queues:           ${stack.queues.join(", ")}`,
    "",
    "Try it (in another terminal):",
    "",
    "  # 1. Stream a chat completion",
    `  curl -N ${base}/api/v1/chat/completions -H "content-type: application/json"${keyHeader} \\`,
    `    -d '{"model":"${settings.AZURE_OPENAI_CHAT_DEPLOYMENT ?? "gpt-4o-mini"}","stream":true,"messages":[{"role":"user","content":"Say hello in five words."}]}'`,
    "",
    `  # 2. Upload an audio file (a generated sample here; or pass your own .wav/.mp3) -> transcript in ${settings.TRANSCRIPTS_CONTAINER ?? "transcripts"}`,
    `  npm run send -- upload --sample --container ${audio}${eventGrid ? " --event-grid" : ""}`,
    ...(settings.AZURE_OPENAI_TRANSCRIPTION_MODELS?.includes("gpt-4o-transcribe-diarize")
      ? [
          "  #    the same with gpt-4o-transcribe-diarize, speakers labelled in every format (docs/transcription.md#speakers):",
          `  npm run send -- upload --sample --name meeting.wav --container ${audio}${eventGrid ? " --event-grid" : ""} --metadata speakers=true --metadata speaker_names=Ana,Ben`,
        ]
      : []),
    "",
    `  # 3. Enqueue an embeddings message -> result in ${settings.EMBEDDINGS_CONTAINER ?? "embeddings"}/doc-1.json`,
    `  npm run send -- enqueue '{"id":"doc-1","input":"The quick brown fox"}' --queue ${queue}`,
    "",
    `  # 4. Speak a text -> audio in ${settings.SPEECH_CONTAINER ?? "speech"}/hello.mp3 (and hello.json)`,
    `  npm run send -- speak 'Hello from the speech queue.' --voice alloy --id hello`,
    "",
    `  # 5. Generate images -> ${settings.IMAGES_CONTAINER ?? "images"}/fox/1.png, fox/2.png (and fox.json)`,
    `  npm run send -- imagine 'a red fox in the snow, watercolour' --n 2 --id fox`,
    "",
    "  # 6. Read what the app wrote",
    `  npm run send -- list ${settings.TRANSCRIPTS_CONTAINER ?? "transcripts"}`,
    `  npm run send -- get ${settings.EMBEDDINGS_CONTAINER ?? "embeddings"}/doc-1.json`,
    "",
    "  # 7. Tokens and cost by caller and model since start (METRICS_EXPORT=console prints them here every 10 s)",
    "  npm run send -- usage",
    "",
    "Ctrl-C stops everything; data stays in .azurite/ for the next start.",
  ];
  console.log(lines.join("\n"));
}

main().catch((error: unknown) => {
  console.error(`\nnpm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

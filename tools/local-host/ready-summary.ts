/**
 * The summary `npm start` prints when the stack is ready (start.ts): kept apart from start.ts,
 * which starts everything as soon as it is imported, so a test can check what a user reads.
 */
import { KEY_SETTINGS } from "./function-keys.js";
import type { Stack } from "./stack.js";

/** What `npm start` prints once everything is up: the console's URL first, then what runs where and what to try. */
export function readySummary(stack: Stack): string {
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
  return lines.join("\n");
}

/**
 * `npm run send -- <command>`: puts work in front of the running app.
 *
 *   upload <file> | --sample  [--container audio] [--name NAME] [--metadata k=v]... [--event-grid] [--function NAME]
 *   enqueue <text|json> | --file PATH  [--queue embeddings] [--encoding base64|none]
 *   blob-event <container>/<blob> [--function NAME]
 *
 * Storage comes from AzureWebJobsStorage (local.settings.json; Azurite by default); the
 * Functions URL from FUNCTIONS_URL or FUNCTIONS_PORT.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { enqueue, postBlobCreated, upload } from "./commands.js";
import { sendContext } from "./settings.js";

const USAGE = `Usage:
  npm run send -- upload <file> | --sample [--container audio] [--name NAME] [--metadata key=value]... [--event-grid] [--function transcribeAudio]
  npm run send -- enqueue '<json or text>' | --file PATH [--queue embeddings] [--encoding base64|none]
  npm run send -- blob-event <container>/<blob> [--function transcribeAudio]`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      container: { type: "string" },
      name: { type: "string" },
      metadata: { type: "string", multiple: true },
      sample: { type: "boolean" },
      "event-grid": { type: "boolean" },
      function: { type: "string" },
      queue: { type: "string" },
      file: { type: "string" },
      encoding: { type: "string" },
      key: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, argument] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const ctx = sendContext(process.cwd());
  const s = ctx.settings;
  const functionName = values.function ?? "transcribeAudio";
  const key = values.key ?? s.FUNCTIONS_MASTER_KEY ?? s.FUNCTIONS_DEFAULT_KEY;

  switch (command) {
    case "upload": {
      const metadata: Record<string, string> = {};
      for (const pair of values.metadata ?? []) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`--metadata expects key=value, got "${pair}".`);
        metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const container = values.container ?? s.AUDIO_CONTAINER ?? "audio";
      const blob = await upload(ctx, {
        ...(argument ? { file: argument } : {}),
        sample: values.sample ?? false,
        container,
        ...(values.name ? { name: values.name } : {}),
        metadata,
      });
      console.log(`Uploaded ${blob.url}`);
      if (values["event-grid"]) {
        await postBlobCreated(ctx, { container, blobName: blob.name, functionName, functionsUrl: ctx.functionsUrl, ...(key ? { key } : {}) });
        console.log(`Posted the Event Grid BlobCreated event to ${ctx.functionsUrl}/runtime/webhooks/blobs (${functionName}).`);
      }
      return;
    }
    case "enqueue": {
      const text = values.file ? await readFile(values.file, "utf8") : argument;
      if (text === undefined) throw new Error("enqueue needs the message text or --file PATH.");
      const encoding = (values.encoding ?? ctx.messageEncoding) as "base64" | "none";
      if (encoding !== "base64" && encoding !== "none") throw new Error('--encoding must be "base64" or "none".');
      const queue = values.queue ?? s.EMBEDDINGS_QUEUE ?? "embeddings";
      const id = await enqueue(ctx, { text, queue, encoding });
      console.log(`Enqueued message ${id} on "${queue}" (${encoding}).`);
      return;
    }
    case "blob-event": {
      const slash = argument?.indexOf("/") ?? -1;
      if (!argument || slash <= 0) throw new Error("blob-event needs <container>/<blob>.");
      const status = await postBlobCreated(ctx, {
        container: argument.slice(0, slash),
        blobName: argument.slice(slash + 1),
        functionName,
        functionsUrl: ctx.functionsUrl,
        ...(key ? { key } : {}),
      });
      console.log(`The blob webhook accepted the event (${status}).`);
      return;
    }
    default:
      throw new Error(`Unknown command "${command}".\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED" || /ECONNREFUSED/.test(message)) {
    console.error(`Cannot reach storage or the Functions host (${message}). Is "npm start" running? Otherwise check AzureWebJobsStorage and FUNCTIONS_PORT in local.settings.json.`);
  } else {
    console.error(message);
  }
  process.exit(1);
});

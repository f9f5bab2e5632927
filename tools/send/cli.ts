/**
 * `npm run send -- <command>`: puts work in front of the running app, and reads what it wrote.
 *
 *   upload <file> | --sample  [--container audio] [--name NAME] [--metadata k=v]... [--event-grid] [--function NAME]
 *   enqueue <json> | --file PATH  [--queue embeddings] [--encoding base64|none]
 *   speak <text> [--voice alloy] [--format mp3] [--instructions TEXT] [--id ID]
 *   imagine <prompt> [--size 1024x1024] [--quality low] [--n 2] [--id ID]
 *   blob-event <container>/<blob> [--function NAME]
 *   list <container>[/prefix]
 *   get <container>/<blob>
 *   usage [--json]
 *
 * Storage comes from AzureWebJobsStorage (local.settings.json; Azurite by default); the
 * Functions URL from FUNCTIONS_URL or FUNCTIONS_PORT.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { download, enqueue, fetchUsage, formatUsageTable, list, postBlobCreated, upload } from "./commands.js";
import { sendContext } from "./settings.js";

const USAGE = `Usage:
  npm run send -- upload <file> | --sample [--container audio] [--name NAME] [--metadata key=value]... [--event-grid] [--function transcribeAudio]
  npm run send -- enqueue '<message>' | --file PATH [--queue embeddings] [--encoding base64|none]
      (the embeddings queue takes a JSON object: '{"id":"doc-1","input":"text"}', see docs/embeddings.md)
  npm run send -- speak '<text>' [--voice alloy] [--format mp3|wav|pcm|flac|opus|aac] [--instructions '<tone>'] [--id ID]
      (speech queue -> speech/{id}.{format} and {id}.json, see docs/speech.md)
  npm run send -- imagine '<prompt>' [--size 1024x1024] [--quality low|medium|high] [--n 1-10] [--id ID]
      (images queue -> images/{id}/1.png ... and {id}.json, see docs/images.md)
  npm run send -- blob-event <container>/<blob> [--function transcribeAudio]
  npm run send -- list <container>[/prefix]        (e.g. list transcripts)
  npm run send -- get <container>/<blob>           (e.g. get embeddings/doc-1.json)
  npm run send -- usage [--json]                   (tokens and cost by caller and model since the app started)`;

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
      id: { type: "string" },
      voice: { type: "string" },
      format: { type: "string" },
      instructions: { type: "string" },
      size: { type: "string" },
      quality: { type: "string" },
      n: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, argument] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const ctx = sendContext(process.cwd());
  const settings = ctx.settings;
  const functionName = values.function ?? "transcribeAudio";
  const key = values.key ?? settings.FUNCTIONS_MASTER_KEY ?? settings.FUNCTIONS_DEFAULT_KEY;

  switch (command) {
    case "upload": {
      const metadata: Record<string, string> = {};
      for (const pair of values.metadata ?? []) {
        const equals = pair.indexOf("=");
        if (equals <= 0) throw new Error(`--metadata expects key=value, got "${pair}".`);
        metadata[pair.slice(0, equals)] = pair.slice(equals + 1);
      }
      const container = values.container ?? settings.AUDIO_CONTAINER ?? "audio";
      const blob = await upload(ctx, {
        ...(argument ? { file: argument } : {}),
        sample: values.sample ?? false,
        container,
        ...(values.name ? { name: values.name } : {}),
        metadata,
      });
      console.log(`Uploaded ${blob.url}`);
      if (values["event-grid"]) {
        await postBlobCreated(ctx, {
          container,
          blobName: blob.name,
          functionName,
          functionsUrl: ctx.functionsUrl,
          ...(key ? { key } : {}),
        });
        console.log(`Posted the Event Grid BlobCreated event to ${ctx.functionsUrl}/runtime/webhooks/blobs (${functionName}).`);
      }
      if (container === (settings.AUDIO_CONTAINER ?? "audio")) {
        const transcripts = settings.TRANSCRIPTS_CONTAINER ?? "transcripts";
        const route = blob.name.split("/").map(encodeURIComponent).join("/");
        console.log(
          [
            `Transcripts: ${transcripts}/${blob.name}.{json,txt,srt,vtt}, in a few seconds. Follow it:`,
            `  curl ${shellWord(`${ctx.functionsUrl}/api/transcriptions/${route}`)}`,
            `  npm run send -- get ${shellWord(`${transcripts}/${blob.name}.txt`)}`,
          ].join("\n"),
        );
      }
      return;
    }
    case "enqueue": {
      const text = values.file ? await readFile(values.file, "utf8") : argument;
      if (text === undefined) throw new Error("enqueue needs the message text or --file PATH.");
      const encoding = (values.encoding ?? ctx.messageEncoding) as "base64" | "none";
      if (encoding !== "base64" && encoding !== "none") throw new Error('--encoding must be "base64" or "none".');
      const queue = values.queue ?? settings.EMBEDDINGS_QUEUE ?? "embeddings";
      const embeddingsQueue = queue === (settings.EMBEDDINGS_QUEUE ?? "embeddings");
      const document = embeddingsQueue ? embeddingsDocument(text) : undefined;
      const messageId = await enqueue(ctx, { text, queue, encoding });
      console.log(`Enqueued message ${messageId} on "${queue}" (${encoding}).`);
      if (document) {
        const result = `${settings.EMBEDDINGS_CONTAINER ?? "embeddings"}/${typeof document.id === "string" ? document.id : messageId}.json`;
        console.log(
          `Result: ${result} (or .error.json saying why not), in a few seconds. Read it:\n  npm run send -- get ${shellWord(result)}`,
        );
      }
      return;
    }
    case "speak":
    case "imagine": {
      if (!argument) throw new Error(`${command} needs the ${command === "speak" ? "text to speak" : "prompt"} as its argument.`);
      const speak = command === "speak";
      const message: Record<string, unknown> = { ...(values.id ? { id: values.id } : {}) };
      if (speak) {
        Object.assign(message, { input: argument, voice: values.voice ?? "alloy" });
        if (values.format) message.format = values.format;
        if (values.instructions) message.instructions = values.instructions;
      } else {
        message.prompt = argument;
        if (values.size) message.size = values.size;
        if (values.quality) message.quality = values.quality;
        if (values.n !== undefined) message.n = Number(values.n);
      }
      // Always base64, as host.json's messageEncoding says; the app checks the fields and says what is wrong.
      const queue = speak ? (settings.SPEECH_QUEUE ?? "speech") : (settings.IMAGES_QUEUE ?? "images");
      const container = speak ? (settings.SPEECH_CONTAINER ?? "speech") : (settings.IMAGES_CONTAINER ?? "images");
      const messageId = await enqueue(ctx, { text: JSON.stringify(message), queue, encoding: "base64" });
      const id = values.id ?? messageId;
      const outputs = speak ? `${container}/${id}.${values.format ?? "mp3"}` : `${container}/${id}/1.png ...`;
      console.log(`Enqueued message ${messageId} on "${queue}".`);
      console.log(
        `Result: ${outputs} and ${container}/${id}.json (or ${id}.error.json saying why not). Read it:\n  npm run send -- get ${shellWord(`${container}/${id}.json`)}`,
      );
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
    case "list": {
      if (!argument) throw new Error("list needs <container> or <container>/<prefix>.");
      const slash = argument.indexOf("/");
      const container = slash < 0 ? argument : argument.slice(0, slash);
      const blobs = await list(ctx, container, slash < 0 ? undefined : argument.slice(slash + 1));
      for (const listed of blobs)
        console.log(`${listed.lastModified.toISOString()}  ${String(listed.bytes).padStart(10)}  ${container}/${listed.name}`);
      if (blobs.length === 0) console.log(`(no blobs in ${argument})`);
      return;
    }
    case "get": {
      const slash = argument?.indexOf("/") ?? -1;
      if (!argument || slash <= 0) throw new Error("get needs <container>/<blob>.");
      const content = await download(ctx, argument.slice(0, slash), argument.slice(slash + 1));
      process.stdout.write(content);
      // Keep the shell prompt off the last line of a text blob shown in a terminal.
      if (process.stdout.isTTY && content.length > 0 && content[content.length - 1] !== 0x0a) process.stdout.write("\n");
      return;
    }
    case "usage": {
      const usage = await fetchUsage(ctx.functionsUrl, key);
      console.log(values.json ? JSON.stringify(usage, null, 2) : formatUsageTable(usage));
      return;
    }
    default:
      throw new Error(`Unknown command "${command}".\n${USAGE}`);
  }
}

/** A word to paste into a POSIX shell: quoted when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[\w./@%+=:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The message as the app's embeddings function reads it.
 * @throws Error with an example when the text is not a JSON object (the app would only record
 *   an .error.json for it).
 */
function embeddingsDocument(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(
      `The embeddings queue takes a JSON object, e.g. '{"id":"doc-1","input":"${text.slice(0, 40).replace(/["'\\]/g, "")}"}' (docs/embeddings.md). Nothing was enqueued.`,
    );
  }
  return parsed as Record<string, unknown>;
}

// `npm run send -- get ... | head`: a reader that stops early is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED" || /ECONNREFUSED/.test(message)) {
    console.error(
      `Cannot reach storage or the Functions host (${message}). Is "npm start" running? Otherwise check AzureWebJobsStorage and FUNCTIONS_PORT in local.settings.json.`,
    );
  } else {
    console.error(message);
  }
  process.exit(1);
});

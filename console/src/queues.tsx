/**
 * Embeddings and the other queues: a message built from a form (shown as the JSON that is sent),
 * put on the queue through POST /api/jobs/queues/{queue}, then the result record or the error
 * record polled until one of them appears.
 */
import { useState } from "preact/hooks";
import { apiFetch, authHeaders, errorText } from "./api.js";

type Queue = "embeddings" | "speech" | "images";
/** The fields of a result or error record the page shows (docs/embeddings.md, speech.md, images.md). */
interface JobRecord {
  error?: { code?: string; message?: string };
  items?: unknown[];
  dimensions?: number;
  usage?: { total_tokens?: number };
  images?: unknown[];
  format?: string;
}
interface Outcome {
  id: string;
  state: "waiting" | "done" | "failed";
  record?: JobRecord;
  mediaUrl?: string;
  note?: string;
}

const POLL_MS = 1000;
const WAIT_MS = 120_000;

export function QueuesPanel() {
  const [queue, setQueue] = useState<Queue>("embeddings");
  const [id, setId] = useState("");
  const [input, setInput] = useState("The quick brown fox");
  const [dimensions, setDimensions] = useState("");
  const [voice, setVoice] = useState("alloy");
  const [format, setFormat] = useState("mp3");
  const [size, setSize] = useState("1024x1024");
  const [error, setError] = useState("");
  const [outcome, setOutcome] = useState<Outcome | undefined>();

  const message = buildMessage();
  function buildMessage(): Record<string, unknown> {
    const base: Record<string, unknown> = id.trim() ? { id: id.trim() } : {};
    if (queue === "embeddings") {
      const lines = input.split("\n").filter((line) => line.trim() !== "");
      return { ...base, input: lines.length === 1 ? lines[0] : lines, ...(dimensions ? { dimensions: Number(dimensions) } : {}) };
    }
    if (queue === "speech") return { ...base, input, voice, format };
    return { ...base, prompt: input, size };
  }

  async function submit(event: Event) {
    event.preventDefault();
    setError("");
    setOutcome(undefined);
    const response = await apiFetch(`/api/jobs/queues/${queue}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
    });
    if (!response.ok) return setError(await errorText(response));
    const sent = (await response.json()) as { id: string; result: string; error: string };
    const current: Outcome = { id: sent.id, state: "waiting" };
    setOutcome({ ...current });
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      const failed = await apiFetch(sent.error);
      if (failed.ok) return setOutcome({ id: sent.id, state: "failed", record: await failed.json() });
      const done = await apiFetch(sent.result);
      if (done.ok) {
        const record = (await done.json()) as JobRecord;
        return setOutcome({ id: sent.id, state: "done", record, mediaUrl: await mediaOf(queue, sent.result, record) });
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    setOutcome({ ...current, note: `Nothing after ${WAIT_MS / 1000} s: is the app's queue function running?` });
  }

  return (
    <section aria-labelledby="queues-title">
      <h2 id="queues-title">Embeddings and other queues</h2>
      <form class="grid" onSubmit={(e) => void submit(e)}>
        <label>
          Queue
          <select value={queue} onChange={(e) => setQueue(e.currentTarget.value as Queue)}>
            <option value="embeddings">embeddings</option>
            <option value="speech">speech</option>
            <option value="images">images</option>
          </select>
        </label>
        <label>
          Id (names the outputs; empty: the queue message id)
          <input value={id} onInput={(e) => setId(e.currentTarget.value)} placeholder="docs/faq-12" />
        </label>
        <label class="wide">
          {queue === "embeddings" ? "Input (one text per line)" : queue === "speech" ? "Text to speak" : "Image prompt"}
          <textarea rows={3} value={input} onInput={(e) => setInput(e.currentTarget.value)} />
        </label>
        {queue === "embeddings" && (
          <label>
            Dimensions (empty: the model's)
            <input value={dimensions} inputMode="numeric" onInput={(e) => setDimensions(e.currentTarget.value)} />
          </label>
        )}
        {queue === "speech" && (
          <>
            <label>
              Voice
              <input value={voice} onInput={(e) => setVoice(e.currentTarget.value)} />
            </label>
            <label>
              Format
              <select value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
                {["mp3", "wav", "opus", "aac", "flac"].map((f) => (
                  <option key={f}>{f}</option>
                ))}
              </select>
            </label>
          </>
        )}
        {queue === "images" && (
          <label>
            Size
            <select value={size} onChange={(e) => setSize(e.currentTarget.value)}>
              {["1024x1024", "1024x1536", "1536x1024"].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        )}
        <details class="wide">
          <summary>Message sent</summary>
          <pre data-testid="message-preview">{JSON.stringify(message, null, 2)}</pre>
        </details>
        <div class="buttons wide">
          <button type="submit" disabled={outcome?.state === "waiting"}>
            Enqueue
          </button>
        </div>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {outcome && <OutcomeView outcome={outcome} queue={queue} />}
    </section>
  );
}

function OutcomeView({ outcome, queue }: { outcome: Outcome; queue: Queue }) {
  const record = outcome.record;
  return (
    <article class={`outcome ${outcome.state}`} aria-live="polite" data-testid="queue-outcome">
      <h3>
        Job {outcome.id}: {outcome.state === "waiting" ? "waiting for its result..." : outcome.state === "done" ? "done" : "failed"}
      </h3>
      {outcome.note && <p>{outcome.note}</p>}
      {outcome.state === "failed" && record && (
        <p role="alert" class="error">
          {record.error?.code ? `${record.error.code}: ` : ""}
          {record.error?.message ?? JSON.stringify(record)}
        </p>
      )}
      {outcome.state === "done" && record && Array.isArray(record.items) && (
        <p>
          {record.items.length} embedding{record.items.length === 1 ? "" : "s"} of {record.dimensions ?? "?"} dimensions
          {record.usage ? `, ${record.usage.total_tokens} tokens` : ""}
        </p>
      )}
      {outcome.state === "done" && queue === "images" && Array.isArray(record?.images) && (
        <p>{record!.images.length} image(s) written; see the record below.</p>
      )}
      {outcome.mediaUrl && <audio controls src={outcome.mediaUrl} aria-label="Spoken audio" />}
      {record && (
        <details>
          <summary>Record</summary>
          <pre>
            {JSON.stringify(record, (key, value) => (key === "embedding" && Array.isArray(value) ? `[${value.length} numbers]` : value), 2)}
          </pre>
        </details>
      )}
    </article>
  );
}

/** The speech audio as a blob URL for the player (the output needs the key, which an <audio src> cannot send). */
async function mediaOf(queue: Queue, resultUrl: string, record: JobRecord): Promise<string | undefined> {
  if (queue !== "speech") return undefined;
  const format = typeof record.format === "string" ? record.format : "mp3";
  const response = await fetch(resultUrl.replace(/\.json$/, `.${format}`), { headers: authHeaders() });
  return response.ok ? URL.createObjectURL(await response.blob()) : undefined;
}

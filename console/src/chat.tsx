/**
 * Chat / Responses playground: a model from GET /api/v1/models, a system prompt, the answer
 * rendered chunk by chunk as it streams, a stop button (and Escape) that aborts the request, which
 * the app turns into an abort of the upstream call, and the usage and time to first token.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { apiFetch, errorText, getJson } from "./api.js";
import { readEvents } from "./sse.js";

type Api = "chat" | "responses";
interface Turn {
  role: "user" | "assistant";
  content: string;
}
interface Stats {
  firstTokenMs?: number;
  totalMs?: number;
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  outcome: "streaming" | "done" | "stopped" | "failed";
}

/** What one SSE event's data may hold: a chat completion chunk, a Responses event, or an error. */
interface StreamEvent {
  error?: { message?: string };
  choices?: { delta?: { content?: string | null } }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  type?: string;
  delta?: string;
  message?: string;
  response?: { usage?: { input_tokens: number; output_tokens: number; total_tokens: number }; error?: { message?: string } };
}

/** Models the chat endpoints cannot serve, judged by name: the list has no capabilities field. */
const NOT_CHAT = /embedding|whisper|transcribe|tts|image|dall-e|instruct/i;

export function ChatPanel() {
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState("");
  const [api, setApi] = useState<Api>("chat");
  const [system, setSystem] = useState("You are a helpful assistant.");
  const [prompt, setPrompt] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [answer, setAnswer] = useState("");
  const [stats, setStats] = useState<Stats | undefined>();
  const [error, setError] = useState("");
  const abort = useRef<AbortController | undefined>(undefined);
  const streaming = stats?.outcome === "streaming";

  useEffect(() => {
    getJson<{ data: { id: string }[] }>("/api/v1/models")
      .then((list) => {
        const ids = list.data.map((m) => m.id);
        setModels(ids);
        setModel(ids.find((id) => !NOT_CHAT.test(id)) ?? ids[0] ?? "");
      })
      .catch((e: Error) => setError(`Could not list the models: ${e.message}`));
  }, []);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") abort.current?.abort();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  async function send() {
    const text = prompt.trim();
    if (!text || streaming) return;
    if (!model) return setError("Choose a model first.");
    const history: Turn[] = [...turns, { role: "user", content: text }];
    setTurns(history);
    setPrompt("");
    setAnswer("");
    setError("");
    const controller = new AbortController();
    abort.current = controller;
    const started = performance.now();
    const current: Stats = { outcome: "streaming" };
    setStats({ ...current });
    let received = "";
    const onDelta = (delta: string) => {
      if (!delta) return;
      if (current.firstTokenMs === undefined) current.firstTokenMs = Math.round(performance.now() - started);
      received += delta;
      setAnswer(received);
      setStats({ ...current });
    };
    try {
      const messages = [...(system.trim() ? [{ role: "system", content: system }] : []), ...history];
      const request =
        api === "chat"
          ? { path: "/api/v1/chat/completions", body: { model, messages, stream: true, stream_options: { include_usage: true } } }
          : { path: "/api/v1/responses", body: { model, instructions: system.trim() || undefined, input: history, stream: true } };
      const response = await apiFetch(request.path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request.body),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw new Error(await errorText(response));
      await readEvents(response.body, (event) => {
        if (event.data === "[DONE]") return;
        const data = JSON.parse(event.data) as StreamEvent;
        if (data.error) throw new Error(data.error.message ?? JSON.stringify(data.error));
        if (api === "chat") {
          onDelta(data.choices?.[0]?.delta?.content ?? "");
          if (data.usage) {
            current.promptTokens = data.usage.prompt_tokens;
            current.completionTokens = data.usage.completion_tokens;
            current.totalTokens = data.usage.total_tokens;
          }
        } else if (data.type === "response.output_text.delta") {
          onDelta(data.delta ?? "");
        } else if (data.type === "response.completed" && data.response?.usage) {
          current.promptTokens = data.response.usage.input_tokens;
          current.completionTokens = data.response.usage.output_tokens;
          current.totalTokens = data.response.usage.total_tokens;
        } else if (data.type === "response.failed" || data.type === "error") {
          throw new Error(data.response?.error?.message ?? data.message ?? "The response failed");
        }
      });
      current.outcome = "done";
    } catch (e) {
      current.outcome = controller.signal.aborted ? "stopped" : "failed";
      if (!controller.signal.aborted) setError((e as Error).message);
    } finally {
      current.totalMs = Math.round(performance.now() - started);
      setStats({ ...current });
      if (received) setTurns([...history, { role: "assistant", content: received }]);
      setAnswer("");
      abort.current = undefined;
    }
  }

  return (
    <section aria-labelledby="chat-title">
      <h2 id="chat-title">Chat and Responses playground</h2>
      <form
        class="grid"
        onSubmit={(event) => {
          event.preventDefault();
          void send();
        }}
      >
        <label>
          Model
          <select value={model} onChange={(e) => setModel(e.currentTarget.value)}>
            {models.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </label>
        <label>
          API
          <select value={api} onChange={(e) => setApi(e.currentTarget.value as Api)}>
            <option value="chat">Chat Completions (/v1/chat/completions)</option>
            <option value="responses">Responses (/v1/responses)</option>
          </select>
        </label>
        <label class="wide">
          System prompt
          <textarea rows={2} value={system} onInput={(e) => setSystem(e.currentTarget.value)} />
        </label>
        <ol class="conversation wide" aria-label="Conversation" aria-live="polite">
          {turns.map((turn, i) => (
            <li key={i} class={turn.role}>
              <strong>{turn.role === "user" ? "You" : "Assistant"}:</strong> {turn.content}
            </li>
          ))}
          {streaming && (
            <li class="assistant" data-testid="streaming-answer">
              <strong>Assistant:</strong> {answer}
            </li>
          )}
        </ol>
        <label class="wide">
          Message (Enter sends, Shift+Enter for a new line, Escape stops)
          <textarea
            rows={3}
            value={prompt}
            onInput={(e) => setPrompt(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault();
                void send();
              }
            }}
          />
        </label>
        <div class="buttons wide">
          <button type="submit" disabled={streaming}>
            Send
          </button>
          <button type="button" disabled={!streaming} onClick={() => abort.current?.abort()}>
            Stop
          </button>
          <button type="button" disabled={streaming || turns.length === 0} onClick={() => setTurns([])}>
            New conversation
          </button>
        </div>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {stats && (
        <dl class="stats" aria-label="Last answer">
          <dt>State</dt>
          <dd data-testid="chat-outcome">{stats.outcome}</dd>
          <dt>Time to first token</dt>
          <dd data-testid="ttft">{stats.firstTokenMs === undefined ? "-" : `${stats.firstTokenMs} ms`}</dd>
          <dt>Total time</dt>
          <dd>{stats.totalMs === undefined ? "-" : `${stats.totalMs} ms`}</dd>
          <dt>Tokens (prompt / completion / total)</dt>
          <dd data-testid="usage">
            {stats.totalTokens === undefined ? "-" : `${stats.promptTokens} / ${stats.completionTokens} / ${stats.totalTokens}`}
          </dd>
        </dl>
      )}
    </section>
  );
}

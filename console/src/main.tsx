/**
 * The console's shell: the function key field (kept in this tab's session storage) and one panel
 * per capability, chosen by the URL's hash so each can be linked and reloaded.
 *
 * Front-end stack: preact (about 4 KB gzipped, React's API with JSX checked by tsc) because the
 * panels are state that changes many times a second (streamed tokens, polled jobs), which plain DOM
 * code would have to diff by hand; no router, no CSS framework, no state library. Bundled by
 * rolldown, the project's bundler already (tools/console/build-console.ts).
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { loadKey, saveKey } from "./api.js";
import { ChatPanel } from "./chat.js";
import { QueuesPanel } from "./queues.js";
import { SummaryPanel } from "./summary.js";
import { TranscriptionsPanel } from "./transcriptions.js";

const PANELS = [
  { id: "chat", label: "Chat", view: ChatPanel },
  { id: "transcriptions", label: "Transcriptions", view: TranscriptionsPanel },
  { id: "queues", label: "Embeddings and queues", view: QueuesPanel },
  { id: "summary", label: "Operators' summary", view: SummaryPanel },
] as const;

function currentPanel(): string {
  const id = location.hash.slice(1);
  return PANELS.some((panel) => panel.id === id) ? id : "chat";
}

function App() {
  const [panel, setPanel] = useState(currentPanel());
  const [key, setKey] = useState(loadKey());
  useEffect(() => {
    const onHash = () => setPanel(currentPanel());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const View = PANELS.find((p) => p.id === panel)!.view;
  return (
    <>
      <header>
        <h1>Azure OpenAI Functions console</h1>
        <form
          class="key"
          onSubmit={(e) => {
            e.preventDefault();
            saveKey(key.trim());
          }}
        >
          <label>
            Function key (kept in this tab only; empty when keys are off or Easy Auth signs you in)
            <input type="password" autocomplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
          </label>
          <button type="submit">Use key</button>
        </form>
        <nav aria-label="Console sections">
          {PANELS.map((p) => (
            <a key={p.id} href={`#${p.id}`} aria-current={p.id === panel ? "page" : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
      </header>
      <main>
        <View key={`${panel}:${loadKey()}`} />
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);

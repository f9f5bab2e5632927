/**
 * Operators' summary: this instance's totals since it started, by caller and model, from
 * GET /api/usage (issue #25's metrics). An app without that endpoint says so instead.
 */
import { useEffect, useState } from "preact/hooks";
import { apiFetch, errorText } from "./api.js";

// The answer's shape is the app's own (type-only: nothing of the server is bundled), so a change to
// GET /api/usage breaks the console's typecheck instead of its page.
import type { UsageSnapshot } from "../../src/metrics/usage-totals.js";

export function SummaryPanel() {
  const [usage, setUsage] = useState<UsageSnapshot | undefined>();
  const [note, setNote] = useState("Loading...");

  async function load() {
    const response = await apiFetch("/api/usage");
    if (response.status === 404) return setNote("This app has no usage endpoint (GET /api/usage): its metrics are not deployed.");
    if (!response.ok) return setNote(await errorText(response));
    setUsage((await response.json()) as UsageSnapshot);
    setNote("");
  }
  useEffect(() => {
    void load();
  }, []);

  return (
    <section aria-labelledby="summary-title">
      <h2 id="summary-title">Operators' summary</h2>
      <button type="button" onClick={() => void load()}>
        Refresh
      </button>
      {note && <p role="status">{note}</p>}
      {usage && (
        <>
          <p>Totals of this instance since {new Date(usage.since).toLocaleString()} (each instance counts its own).</p>
          <table>
            <caption>Tokens and cost by caller and model</caption>
            <thead>
              <tr>
                {[
                  "caller",
                  "model",
                  "requests",
                  "failed",
                  "prompt tokens",
                  "completion tokens",
                  "audio min",
                  "images",
                  `cost (${usage.currency})`,
                ].map((h) => (
                  <th scope="col" key={h}>
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {usage.totals.map((t) => (
                <tr key={`${t.caller}/${t.model}`}>
                  <td>{t.caller}</td>
                  <td>{t.model}</td>
                  <td>{t.requests}</td>
                  <td>{t.failed}</td>
                  <td>{t.tokens.prompt}</td>
                  <td>{t.tokens.completion}</td>
                  <td>{t.audioMinutes.toFixed(2)}</td>
                  <td>{t.images}</td>
                  <td>
                    {t.cost.toFixed(4)}
                    {t.unpriced ? ` (+${t.unpriced} unpriced)` : ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {usage.pipelines.length > 0 && <p>Pipelines: {usage.pipelines.map((p) => `${p.pipeline} ${p.outcome} ${p.count}`).join(", ")}</p>}
          {usage.throttled.length > 0 && <p>Throttled: {usage.throttled.map((t) => `${t.caller} ${t.count}`).join(", ")}</p>}
        </>
      )}
    </section>
  );
}

/**
 * Transcription jobs: upload audio with the pipeline's options (through POST /api/jobs/audio/...,
 * with upload progress), the newest jobs polled from GET /api/jobs/transcriptions with their
 * progress, attempts and errors, links to every output, and a transcript with its timings and
 * speakers where the transcript has them.
 */
import { useEffect, useState } from "preact/hooks";
import { authHeaders, encodePath, errorText, getJson } from "./api.js";

interface Job {
  name: string;
  state: "queued" | "running" | "succeeded" | "failed";
  source: { bytes?: number; format?: string; durationInSeconds?: number };
  progress: { chunksDone: number; chunksTotal: number };
  attempts: number;
  error?: { kind: string; code?: string; message: string; willRetry: boolean };
  timings: { elapsedInMs?: number };
  links: Record<string, string>;
  updatedAt: string;
}
interface Segment {
  start: number;
  end: number;
  text: string;
  speaker?: string;
}

const POLL_MS = 1500;
const FORMATS = ["json", "txt", "srt", "vtt"] as const;

export function TranscriptionsPanel() {
  const [jobs, setJobs] = useState<Job[]>([]);
  // More audio than one listing looks at: the list may miss newer jobs (storage lists by name).
  const [partial, setPartial] = useState<number | undefined>();
  const [listError, setListError] = useState("");
  const [shown, setShown] = useState<{ name: string; segments?: Segment[]; text?: string; error?: string } | undefined>();

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const list = await getJson<{ data: Job[]; has_more?: boolean; listed?: number }>("/api/jobs/transcriptions?limit=20");
        if (!stopped) {
          setJobs(list.data);
          setPartial(list.has_more ? list.listed : undefined);
          setListError("");
        }
      } catch (e) {
        if (!stopped) setListError((e as Error).message);
      }
      if (!stopped) timer = window.setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, []);

  async function showTranscript(job: Job) {
    const link = job.links.json ?? job.links.txt;
    if (!link) return;
    try {
      const response = await fetch(link, { headers: authHeaders() });
      if (!response.ok) throw new Error(await errorText(response));
      if (link === job.links.json) {
        const transcript = (await response.json()) as { text: string; segments?: Segment[] };
        setShown({ name: job.name, text: transcript.text, segments: transcript.segments });
      } else setShown({ name: job.name, text: await response.text() });
    } catch (e) {
      setShown({ name: job.name, error: (e as Error).message });
    }
  }

  return (
    <section aria-labelledby="tx-title">
      <h2 id="tx-title">Transcription jobs</h2>
      <UploadForm />
      <h3>Recent jobs</h3>
      {listError && (
        <p role="alert" class="error">
          {listError}
        </p>
      )}
      {jobs.length === 0 && !listError && <p>No audio uploaded yet.</p>}
      {partial !== undefined && (
        <p class="note">
          The audio container holds more than {partial.toLocaleString()} files; these are the newest of the first {partial.toLocaleString()}{" "}
          by name, so newer jobs may be missing. Check a job by name with GET /api/transcriptions/&#123;name&#125;.
        </p>
      )}
      <ul class="jobs" aria-live="polite">
        {jobs.map((job) => (
          <li key={job.name} class={`job ${job.state}`} data-job={job.name}>
            <div class="job-head">
              <strong>{job.name}</strong> <span class="state">{job.state}</span>
            </div>
            <progress
              max={Math.max(job.progress.chunksTotal, 1)}
              value={job.state === "succeeded" ? Math.max(job.progress.chunksTotal, 1) : job.progress.chunksDone}
              aria-label={`${job.name}: ${percent(job)} %`}
            />
            <span class="percent">{percent(job)} %</span>
            <span>
              {" "}
              chunks {job.progress.chunksDone}/{job.progress.chunksTotal}, attempts {job.attempts}
              {job.source.format ? `, ${job.source.format}` : ""}
              {job.source.durationInSeconds ? `, ${job.source.durationInSeconds.toFixed(1)} s` : ""}
            </span>
            {job.error && (
              <p class="error" data-testid="job-error">
                {job.error.code ? `${job.error.code}: ` : ""}
                {job.error.message}
                {job.error.willRetry ? " (will retry)" : ""}
              </p>
            )}
            <p class="links">
              {Object.entries(job.links).map(([label, href]) => (
                <a key={label} href={href} onClick={(e) => openWithKey(e, href)}>
                  {label}
                </a>
              ))}
              {job.state === "succeeded" && (job.links.json || job.links.txt) && (
                <button type="button" onClick={() => void showTranscript(job)}>
                  Show transcript of {job.name}
                </button>
              )}
            </p>
          </li>
        ))}
      </ul>
      {shown && (
        <article aria-labelledby="transcript-title" class="transcript">
          <h3 id="transcript-title">Transcript of {shown.name}</h3>
          {shown.error && (
            <p role="alert" class="error">
              {shown.error}
            </p>
          )}
          {shown.segments ? (
            <table>
              <thead>
                <tr>
                  <th scope="col">start</th>
                  <th scope="col">end</th>
                  {shown.segments.some((s) => s.speaker) && <th scope="col">speaker</th>}
                  <th scope="col">text</th>
                </tr>
              </thead>
              <tbody>
                {shown.segments.map((segment, i) => (
                  <tr key={i}>
                    <td>{clock(segment.start)}</td>
                    <td>{clock(segment.end)}</td>
                    {shown.segments!.some((s) => s.speaker) && <td>{segment.speaker ?? ""}</td>}
                    <td>{segment.text}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            shown.text !== undefined && <pre>{shown.text}</pre>
          )}
        </article>
      )}
    </section>
  );
}

function UploadForm() {
  const [file, setFile] = useState<File | undefined>();
  const [name, setName] = useState("");
  const [language, setLanguage] = useState("");
  const [prompt, setPrompt] = useState("");
  const [task, setTask] = useState("transcribe");
  const [temperature, setTemperature] = useState("");
  const [model, setModel] = useState("");
  const [formats, setFormats] = useState<string[]>([...FORMATS]);
  const [speakers, setSpeakers] = useState(false);
  const [speakerNames, setSpeakerNames] = useState("");
  const [words, setWords] = useState(false);
  const [sent, setSent] = useState<number | undefined>();
  const [message, setMessage] = useState<{ ok: boolean; text: string } | undefined>();

  function submit(event: Event) {
    event.preventDefault();
    if (!file) return setMessage({ ok: false, text: "Choose an audio file first." });
    if (formats.length === 0) return setMessage({ ok: false, text: "Choose at least one output format." });
    const blobName = name.trim() || file.name;
    const query = new URLSearchParams();
    if (language) query.set("language", language);
    if (prompt) query.set("prompt", prompt);
    if (task !== "transcribe") query.set("task", task);
    if (temperature) query.set("temperature", temperature);
    if (model) query.set("model", model);
    if (formats.length < FORMATS.length) query.set("formats", formats.join(","));
    if (speakers) query.set("speakers", "true");
    if (speakerNames.trim()) query.set("speaker_names", speakerNames.trim());
    if (words) query.set("words", "true");
    // XMLHttpRequest rather than fetch: it reports upload progress, which matters for files of hundreds of MB.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/jobs/audio/${encodePath(blobName)}?${query}`);
    for (const [header, value] of Object.entries(authHeaders())) xhr.setRequestHeader(header, value);
    xhr.setRequestHeader("content-type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (e) => setSent(e.lengthComputable ? Math.round((100 * e.loaded) / e.total) : undefined);
    xhr.onload = async () => {
      setSent(undefined);
      if (xhr.status === 201) setMessage({ ok: true, text: `Uploaded ${blobName}; its job appears below.` });
      else
        setMessage({
          ok: false,
          text: await errorText(new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText })),
        });
    };
    xhr.onerror = () => {
      setSent(undefined);
      setMessage({ ok: false, text: "The upload broke off (network error or the connection was closed)." });
    };
    setMessage(undefined);
    setSent(0);
    xhr.send(file);
  }

  return (
    <form class="grid" onSubmit={submit} aria-label="Upload audio">
      <label class="wide">
        Audio file
        <input
          type="file"
          accept="audio/*,video/mp4,video/webm,.wav,.mp3,.m4a,.flac,.ogg,.webm,.mp4,.mpga,.mpeg"
          onChange={(e) => setFile(e.currentTarget.files?.[0])}
        />
      </label>
      <label>
        Name in the audio container (default: the file's name)
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="meetings/standup.mp3" />
      </label>
      <label>
        Language (ISO-639-1, empty: detect)
        <input value={language} onInput={(e) => setLanguage(e.currentTarget.value)} placeholder="en" />
      </label>
      <label>
        Task
        <select value={task} onChange={(e) => setTask(e.currentTarget.value)}>
          <option value="transcribe">transcribe</option>
          <option value="translate">translate into English</option>
        </select>
      </label>
      <label>
        Temperature (0-1, empty: Whisper's default)
        <input value={temperature} inputMode="decimal" onInput={(e) => setTemperature(e.currentTarget.value)} />
      </label>
      <label>
        Model (empty: the default transcription model)
        <input value={model} onInput={(e) => setModel(e.currentTarget.value)} />
      </label>
      <label class="wide">
        Prompt (names, jargon; at most 1000 characters)
        <input value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} />
      </label>
      <label>
        Speaker names in order of speaking (e.g. Ana,Ben; implies labelling speakers)
        <input value={speakerNames} onInput={(e) => setSpeakerNames(e.currentTarget.value)} />
      </label>
      <fieldset class="wide">
        <legend>Labels and timings</legend>
        <label class="inline">
          <input type="checkbox" checked={speakers} onChange={(e) => setSpeakers(e.currentTarget.checked)} />
          label who speaks (a diarize model)
        </label>
        <label class="inline">
          <input type="checkbox" checked={words} onChange={(e) => setWords(e.currentTarget.checked)} />
          word times (Whisper)
        </label>
      </fieldset>
      <fieldset class="wide">
        <legend>Output formats</legend>
        {FORMATS.map((format) => (
          <label key={format} class="inline">
            <input
              type="checkbox"
              checked={formats.includes(format)}
              onChange={(e) => setFormats(e.currentTarget.checked ? [...formats, format] : formats.filter((f) => f !== format))}
            />
            {format}
          </label>
        ))}
      </fieldset>
      <div class="buttons wide">
        <button type="submit" disabled={sent !== undefined}>
          Upload and transcribe
        </button>
        {sent !== undefined && <progress max={100} value={sent} aria-label={`Upload ${sent} %`} />}
      </div>
      {message && (
        <p role={message.ok ? "status" : "alert"} class={message.ok ? "ok wide" : "error wide"}>
          {message.text}
        </p>
      )}
    </form>
  );
}

function percent(job: Job): number {
  if (job.state === "succeeded") return 100;
  return job.progress.chunksTotal ? Math.floor((100 * job.progress.chunksDone) / job.progress.chunksTotal) : 0;
}

function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = (seconds % 60).toFixed(2).padStart(5, "0");
  return `${m}:${s}`;
}

/** Output links need the key, which a plain navigation cannot send: fetch the output and open it as a blob URL. */
export async function openWithKey(event: MouseEvent, href: string): Promise<void> {
  event.preventDefault();
  const response = await fetch(href, { headers: authHeaders() });
  const blob = response.ok ? await response.blob() : new Blob([await errorText(response)], { type: "text/plain" });
  const url = URL.createObjectURL(new Blob([blob], { type: response.ok ? blob.type : "text/plain" }));
  window.open(url, "_blank", "noopener");
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

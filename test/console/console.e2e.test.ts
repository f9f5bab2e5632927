/**
 * The web console in a real browser (Debian's Chromium through playwright-core) against the real
 * local stack with function keys enforced: what a user sees when streaming a chat and stopping it,
 * uploading audio and watching its job, uploading a bad file, and enqueueing embeddings. Each page
 * is saved as a screenshot under dist/console-screenshots/.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConsole } from "../../tools/console/build-console.js";
import { REPO_ROOT } from "../../tools/repo-root.js";
import { DEFAULT_LATENCY } from "../../tools/simulator/deployments.js";
import { makeWav } from "../support/audio/wav.js";
import { startStack, type Stack } from "../support/stack.js";
import { BROWSER_REQUIRED, browserMissing, launchChromium } from "./browser.js";

const KEY = "console-e2e-key-0123456789";
const SCREENSHOTS = path.join(REPO_ROOT, "dist/console-screenshots");
const missing = browserMissing();
if (missing && BROWSER_REQUIRED) throw new Error(`CONSOLE_BROWSER_REQUIRED is set but ${missing}`);
if (missing) console.warn(`Skipping the console's browser tests: ${missing}. CI sets CONSOLE_BROWSER_REQUIRED=1 to make them mandatory.`);

describe.skipIf(missing !== undefined)("the console in Chromium", () => {
  let stack: Stack;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let consoleUrl: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await buildConsole();
    [stack, chromium] = await Promise.all([
      startStack({
        // 10 tokens a second: an answer of 20-60 tokens streams for seconds, long enough to watch and to stop.
        simulator: { latency: { ...DEFAULT_LATENCY, tokensPerSecond: 10 } },
        // The diarize model beside Whisper, for the speakers' column.
        env: { AZURE_OPENAI_TRANSCRIPTION_MODELS: "gpt-4o-transcribe-diarize" },
        host: { enforceKeys: true, keys: { default: KEY } },
      }),
      launchChromium(),
    ]);
    consoleUrl = `${stack.host.url}/api/console/`;
    page = await chromium.context.newPage();
    await page.goto(consoleUrl);
    await page.getByLabel(/Function key/).fill(KEY);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.reload();
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
    await stack?.stop();
  });

  it("every control has an accessible name, every text meets WCAG AA contrast, and the key stays in session storage only", async () => {
    for (const hash of ["#chat", "#transcriptions", "#queues", "#summary"]) {
      await page.goto(consoleUrl + hash);
      await page.locator("h2").first().waitFor();
      // Run in the page (a string: the tests' TypeScript has no DOM types): controls with no label, aria-label(ledby) or text.
      const unnamed = await page.evaluate<string[]>(`[...document.querySelectorAll("input, select, textarea, button, progress")]
        .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) &&
          !(el.tagName === "BUTTON" && el.textContent.trim()))
        .map((el) => el.outerHTML.slice(0, 120))`);
      expect(unnamed, hash).toEqual([]);
      // WCAG AA contrast of every visible text against the background it is drawn on, as Chromium computes the styles.
      const lowContrast = await page.evaluate<string[]>(`(() => {
        const parse = (c) => { const m = /rgba?\\(([^)]+)\\)/.exec(c); if (!m) return null;
          const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
        const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
        const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
        const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
          if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
        const found = [];
        for (const el of document.querySelectorAll("body *")) {
          if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
          if (el.closest(":disabled") || el.getClientRects().length === 0) continue;
          const style = getComputedStyle(el);
          if (style.visibility === "hidden") continue;
          const [light, dark] = [luminance(parse(style.color)), luminance(background(el))].sort((a, b) => b - a);
          const ratio = (light + 0.05) / (dark + 0.05);
          const size = parseFloat(style.fontSize);
          const needed = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66) ? 3 : 4.5;
          if (ratio < needed) found.push(el.tagName + " '" + el.textContent.trim().slice(0, 30) + "' " + ratio.toFixed(2) + " < " + needed);
        }
        return found;
      })()`);
      expect(lowContrast, hash).toEqual([]);
    }
    expect(await page.evaluate("({ cookie: document.cookie, local: localStorage.length })")).toEqual({ cookie: "", local: 0 });
    expect(await page.content()).not.toContain(KEY);
  });

  it("streams a chat answer token by token, typed and sent from the keyboard, with usage and time to first token", async () => {
    await page.goto(consoleUrl + "#chat");
    await expect.poll(() => page.getByLabel("Model").locator("option").count()).toBeGreaterThan(0);
    // Keyboard only: tab to the message box, type, Enter sends.
    const message = page.getByLabel(/^Message/);
    const focused = async () => (await message.and(page.locator(":focus")).count()) === 1;
    for (let i = 0; i < 15 && !(await focused()); i++) await page.keyboard.press("Tab");
    expect(await focused()).toBe(true);
    await page.keyboard.type("Tell me about foxes.");
    await page.keyboard.press("Enter");
    const streaming = page.getByTestId("streaming-answer");
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          if (await streaming.isVisible()) seen.add(await streaming.innerText());
          return seen.size;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toBeGreaterThanOrEqual(4);
    await page.screenshot({ path: path.join(SCREENSHOTS, "chat-streaming.png") });
    await expect.poll(() => page.getByTestId("chat-outcome").innerText(), { timeout: 15_000 }).toBe("done");
    expect(await page.getByTestId("ttft").innerText()).toMatch(/^\d+ ms$/);
    expect(await page.getByTestId("usage").innerText()).toMatch(/^\d+ \/ \d+ \/ \d+$/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "chat-done.png") });
  });

  it("streams through the Responses API too, with its usage", async () => {
    await page.goto(consoleUrl + "#chat");
    await expect.poll(() => page.getByLabel("Model").locator("option").count()).toBeGreaterThan(0);
    await page.getByRole("combobox", { name: /^API/ }).selectOption("responses");
    await page.getByLabel(/^Message/).fill("Say hello.");
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.getByTestId("chat-outcome").innerText(), { timeout: 15_000 }).toBe("done");
    expect(await page.getByRole("list", { name: "Conversation" }).innerText()).toMatch(/Assistant: \S+/);
    expect(await page.getByTestId("usage").innerText()).toMatch(/^\d+ \/ \d+ \/ \d+$/);
  });

  it("the stop button (and Escape) ends the stream and the app aborts the upstream request", async () => {
    await page.goto(consoleUrl + "#chat");
    await expect.poll(() => page.getByLabel("Model").locator("option").count()).toBeGreaterThan(0);
    await page.getByRole("combobox", { name: /^API/ }).selectOption("chat");
    const before = (await stack.simulator.control.journal()).length;
    await page.getByLabel(/^Message/).fill("Tell me a long story.");
    await page.getByRole("button", { name: "Send" }).click();
    const streaming = page.getByTestId("streaming-answer");
    await expect
      .poll(async () => (await streaming.isVisible()) && (await streaming.innerText()).length > "Assistant: ".length + 5)
      .toBe(true);
    await page.getByRole("button", { name: "Stop" }).click();
    await expect.poll(() => page.getByTestId("chat-outcome").innerText()).toBe("stopped");
    await expect
      .poll(async () =>
        (await stack.simulator.control.journal())
          .slice(before)
          .filter((e) => e.operation === "chat/completions")
          .map((e) => e.aborted),
      )
      .toEqual([true]);
    await page.screenshot({ path: path.join(SCREENSHOTS, "chat-stopped.png") });

    // Escape stops too, from the keyboard.
    await page.getByLabel(/^Message/).fill("Another long story, please.");
    await page.keyboard.press("Enter");
    await expect
      .poll(async () => (await streaming.isVisible()) && (await streaming.innerText()).length > "Assistant: ".length + 5)
      .toBe(true);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.getByTestId("chat-outcome").innerText()).toBe("stopped");
    await expect
      .poll(async () =>
        (await stack.simulator.control.journal())
          .slice(before)
          .filter((e) => e.operation === "chat/completions")
          .map((e) => e.aborted),
      )
      .toEqual([true, true]);
  });

  it("an uploaded WAV's job goes to 100 % and shows its transcript; a bad file shows its reason", async () => {
    await page.goto(consoleUrl + "#transcriptions");
    const upload = async (name: string, mimeType: string, buffer: Buffer) => {
      await page.getByLabel("Audio file").setInputFiles({ name, mimeType, buffer });
      await page.getByRole("button", { name: "Upload and transcribe" }).click();
      await expect.poll(() => page.getByRole("status").innerText()).toContain(`Uploaded ${name}`);
    };
    await upload("e2e-tone.wav", "audio/wav", makeWav([{ tone: 440, seconds: 2 }]));
    const job = page.locator('[data-job="e2e-tone.wav"]');
    await expect.poll(() => job.locator(".state").innerText(), { timeout: 30_000 }).toBe("succeeded");
    expect(await job.locator(".percent").innerText()).toBe("100 %");
    expect(await job.locator(".links a").allInnerTexts()).toEqual(expect.arrayContaining(["status", "json", "txt", "srt", "vtt"]));
    await job.getByRole("button", { name: /Show transcript/ }).click();
    const transcript = page.locator(".transcript");
    await expect.poll(() => transcript.locator("tbody tr").count()).toBeGreaterThan(0);
    expect(await transcript.locator("tbody tr td").first().innerText()).toMatch(/^\d+:\d\d\.\d\d$/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "transcriptions.png"), fullPage: true });

    await upload("e2e-notes.wav", "audio/wav", Buffer.from("These are meeting notes, not audio at all.\n".repeat(40)));
    const bad = page.locator('[data-job="e2e-notes.wav"]');
    await expect.poll(() => bad.locator(".state").innerText(), { timeout: 30_000 }).toBe("failed");
    expect(await bad.getByTestId("job-error").innerText()).toMatch(/\w+: .*(format|audio)/i);
    await page.screenshot({ path: path.join(SCREENSHOTS, "transcription-failed.png"), fullPage: true });
  });

  it("a transcript with speakers shows who speaks when", async () => {
    await page.goto(consoleUrl + "#transcriptions");
    await page.getByLabel("Audio file").setInputFiles({
      name: "e2e-two-voices.wav",
      mimeType: "audio/wav",
      // The simulator's diarization hears pitches as voices: two tones are two speakers.
      buffer: makeWav([
        { tone: 220, seconds: 3 },
        { tone: 660, seconds: 3 },
      ]),
    });
    await page.getByLabel(/^Speaker names/).fill("Ana,Ben");
    await page.getByRole("button", { name: "Upload and transcribe" }).click();
    const job = page.locator('[data-job="e2e-two-voices.wav"]');
    await expect.poll(() => job.locator(".state").innerText(), { timeout: 30_000 }).toBe("succeeded");
    await job.getByRole("button", { name: /Show transcript/ }).click();
    const transcript = page.locator(".transcript");
    await expect.poll(() => transcript.locator("th").allInnerTexts()).toEqual(["start", "end", "speaker", "text"]);
    const speakers = await transcript.locator("tbody tr td:nth-child(3)").allInnerTexts();
    expect([...new Set(speakers)]).toEqual(["Ana", "Ben"]);
    await page.screenshot({ path: path.join(SCREENSHOTS, "transcript-speakers.png"), fullPage: true });
  });

  it("an embeddings message built in the form lands, and a bad one shows its error record", async () => {
    await page.goto(consoleUrl + "#queues");
    await page.getByLabel(/^Id/).fill("e2e/doc-1");
    await page.getByLabel(/^Input/).fill("The quick brown fox\njumps over the lazy dog");
    await page.getByRole("button", { name: "Enqueue" }).click();
    const outcome = page.getByTestId("queue-outcome");
    await expect.poll(() => outcome.locator("h3").innerText(), { timeout: 30_000 }).toBe("Job e2e/doc-1: done");
    expect(await outcome.innerText()).toMatch(/2 embeddings of \d+ dimensions/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "embeddings.png"), fullPage: true });

    await page.getByLabel(/^Id/).fill("e2e/doc-2");
    await page.getByLabel(/^Dimensions/).fill("-3");
    await page.getByRole("button", { name: "Enqueue" }).click();
    await expect.poll(() => outcome.locator("h3").innerText(), { timeout: 30_000 }).toBe("Job e2e/doc-2: failed");
    expect(await outcome.getByRole("alert").innerText()).toContain("dimensions");
    await page.screenshot({ path: path.join(SCREENSHOTS, "embeddings-error.png"), fullPage: true });
  });

  it("a speech message lands and its audio is playable in the page", async () => {
    await page.goto(consoleUrl + "#queues");
    await page.getByRole("combobox", { name: /^Queue/ }).selectOption("speech");
    await page.getByLabel(/^Id/).fill("e2e/hello");
    await page.getByLabel("Text to speak").fill("Hello from the console.");
    await page.getByRole("button", { name: "Enqueue" }).click();
    const outcome = page.getByTestId("queue-outcome");
    await expect.poll(() => outcome.locator("h3").innerText(), { timeout: 30_000 }).toBe("Job e2e/hello: done");
    const player = outcome.getByLabel("Spoken audio");
    await expect.poll(() => player.getAttribute("src")).toMatch(/^blob:/);
    // The browser decodes the app's MP3: a duration means real audio reached the page.
    await expect
      .poll(() => page.evaluate<number>(`document.querySelector('audio[aria-label="Spoken audio"]').duration || 0`), { timeout: 10_000 })
      .toBeGreaterThan(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "speech.png"), fullPage: true });
  });

  it("the operators' summary shows the tokens this instance counted, by caller and model", async () => {
    await page.goto(consoleUrl + "#summary");
    const rowOf = (model: string) => page.getByRole("row").filter({ has: page.getByRole("cell", { name: model, exact: true }) });
    const chatRow = rowOf("gpt-4o-mini");
    await expect.poll(() => chatRow.count()).toBe(1);
    // The two chats above (one stopped) and their tokens, as GET /api/usage counted them.
    const cells = await chatRow.getByRole("cell").allInnerTexts();
    expect(Number(cells[2])).toBeGreaterThanOrEqual(2);
    expect(Number(cells[5])).toBeGreaterThan(0);
    expect(await rowOf("text-embedding-3-small").count()).toBe(1);
    expect(await rowOf("gpt-4o-mini-tts").count()).toBe(1);
    await page.screenshot({ path: path.join(SCREENSHOTS, "summary.png"), fullPage: true });
  });
});

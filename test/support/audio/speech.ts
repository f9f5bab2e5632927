/**
 * Real speech in every container the transcription pipeline splits, made with the Debian tools
 * (espeak-ng speaks, sox loops, flac/opusenc/oggenc/ffmpeg encode; ffmpeg also remuxes without
 * re-encoding to reach a size cheaply). Only tests and benchmarks use these tools: the function
 * itself never does. Where a tool is missing, `missingSpeechTools()` names it so a test can skip
 * with the reason; CI sets SPEECH_TOOLS_REQUIRED=1 (.ci/run installs them) so it fails instead.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export type SpeechFormat = "flac" | "ogg-vorbis" | "ogg-opus" | "webm" | "m4a" | "m4a-alac";

const TOOLS = ["espeak-ng", "sox", "flac", "opusenc", "oggenc", "ffmpeg", "ffprobe"] as const;

const SCRIPT =
  "Good morning everyone, and thank you for joining the quarterly planning call. " +
  "First, the storage migration finished on Tuesday, two days ahead of schedule. " +
  "Second, the transcription service now splits long recordings into chunks and stitches them back together. " +
  "Please send your questions to the team before Friday, and we will answer them in the next meeting.";

/** The tools not on PATH, empty when every fixture can be made. */
export function missingSpeechTools(): string[] {
  return TOOLS.filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
}

/** Whether a missing tool fails the test run rather than skipping (CI). */
export function speechToolsRequired(): boolean {
  return process.env.SPEECH_TOOLS_REQUIRED === "1";
}

export function skipReason(missing: readonly string[]): string {
  return `skipped: ${missing.join(", ")} not installed (apt-get install espeak-ng sox libsox-fmt-all flac opus-tools vorbis-tools ffmpeg)`;
}

/**
 * Clips are cached across test files and runs (the tools' output is the same every time): each is
 * written under a name of its own and renamed into place, so test files running at once never
 * read half a file.
 */
const CACHE = path.join(os.tmpdir(), "speech-fixtures-v1");
let workDir: string | undefined;
function dir(): string {
  workDir ??= (mkdirSync(CACHE, { recursive: true }), mkdtempSync(path.join(CACHE, "work-")));
  return workDir;
}

/** Removes this process's scratch files; the cached clips stay. */
export function removeSpeechFixtures(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Makes `name` in the cache with `make(temporaryPath)` unless it is there; returns its path. */
function cached(name: string, make: (file: string) => void): string {
  const out = path.join(CACHE, name);
  if (existsSync(out)) return out;
  const temporary = path.join(dir(), `${process.pid}-${name}`);
  make(temporary);
  renameSync(temporary, out);
  return out;
}

/** `seconds` of speech (the script spoken, with pauses, repeated) as 16-bit mono WAV at `rate`. */
export function speechWav(seconds: number, rate = 22050): string {
  const spoken = cached(`spoken-${rate}.wav`, (file) => {
    const raw = path.join(dir(), `${process.pid}-espeak.wav`);
    run("espeak-ng", ["-s", "165", "-w", raw, SCRIPT]);
    // A second of pause after the script, so loops are separated like sentences.
    run("sox", [raw, "-r", String(rate), "-c", "1", "-b", "16", "-t", "wav", file, "pad", "0", "1"]);
  });
  return cached(`speech-${rate}-${seconds}.wav`, (file) => {
    const length = Number(execFileSync("soxi", ["-D", spoken]).toString());
    const repeats = Math.max(0, Math.ceil(seconds / length) - 1);
    run("sox", [spoken, "-t", "wav", file, "repeat", String(repeats), "trim", "0", String(seconds)]);
  });
}

const EXTENSIONS: Record<SpeechFormat, string> = {
  flac: "flac",
  "ogg-vorbis": "ogg",
  "ogg-opus": "opus",
  webm: "webm",
  m4a: "m4a",
  "m4a-alac": "alac.m4a",
};

/** Encodes `seconds` of speech; `kbps` for the lossy codecs. Returns the file's path. */
export function encodeSpeech(format: SpeechFormat, seconds: number, kbps = 48): string {
  return cached(`speech-${seconds}-${kbps}.${EXTENSIONS[format]}`, (out) => encode(format, seconds, kbps, out));
}

function encode(format: SpeechFormat, seconds: number, kbps: number, out: string): void {
  switch (format) {
    case "flac":
      run("flac", ["-s", "-f", "--compression-level-5", speechWav(seconds), "-o", out]);
      break;
    case "ogg-vorbis":
      // Vorbis refuses high bitrates for 22 kHz mono; its top quality is about 100 kbps there.
      run("oggenc", ["-Q", ...(kbps >= 100 ? ["-q", "10"] : ["-b", String(kbps)]), speechWav(seconds), "-o", out]);
      break;
    case "ogg-opus":
      run("opusenc", ["--quiet", "--bitrate", String(Math.min(kbps, 256)), speechWav(seconds, 48000), out]);
      break;
    case "webm":
      run("ffmpeg", ["-v", "error", "-y", "-i", speechWav(seconds, 48000), "-c:a", "libopus", "-b:a", `${Math.min(kbps, 256)}k`, out]);
      break;
    case "m4a":
      run("ffmpeg", ["-v", "error", "-y", "-i", speechWav(seconds, 44100), "-c:a", "aac", "-b:a", `${kbps}k`, out]);
      break;
    case "m4a-alac":
      run("ffmpeg", ["-v", "error", "-y", "-i", speechWav(seconds), "-c:a", "alac", "-f", "ipod", out]);
      break;
  }
}

/**
 * A file of at least `minBytes`: a clip encoded once, then joined to itself by ffmpeg's concat
 * demuxer without re-encoding (FLAC, whose frames carry sample numbers, is encoded whole instead).
 */
export function speechOfSize(format: SpeechFormat, minBytes: number, kbps = 48, clipSeconds = 60): Buffer {
  const clip = encodeSpeech(format, clipSeconds, kbps);
  const clipBytes = readFileSync(clip).byteLength;
  const copies = Math.ceil(minBytes / clipBytes) + 1;
  // Large files are not cached: made in this process's scratch folder, read, removed.
  const out = path.join(dir(), `joined-${copies}-${kbps}-${path.basename(clip)}`);
  try {
    if (format === "flac") run("flac", ["-s", "-f", speechWav(clipSeconds * copies), "-o", out]);
    else {
      const list = path.join(dir(), `list-${format}-${copies}.txt`);
      writeFileSync(list, Array.from({ length: copies }, () => `file '${clip}'`).join("\n") + "\n");
      run("ffmpeg", ["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", list, "-c", "copy", out]);
    }
    return readFileSync(out);
  } finally {
    rmSync(out, { force: true });
  }
}

/** A video-only MP4 (ffmpeg's test pattern) of `seconds`. */
export function videoOnlyMp4(seconds: number): Buffer {
  return readFileSync(
    cached(`video-${seconds}.mp4`, (out) =>
      run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", `testsrc=duration=${seconds}:size=320x240:rate=10`, "-c:v", "mpeg4", out]),
    ),
  );
}

/** ffprobe's reading of a file (an independent demuxer): container, codec and duration in seconds. */
export function probe(bytes: Uint8Array): { container: string; codec: string; durationInSeconds: number } {
  const file = path.join(dir(), `probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, bytes);
  try {
    const json = JSON.parse(
      execFileSync("ffprobe", [
        "-v",
        "error",
        "-show_entries",
        "format=format_name,duration:stream=codec_name",
        "-of",
        "json",
        file,
      ]).toString(),
    ) as { format: { format_name: string; duration: string }; streams: { codec_name: string }[] };
    // A full decode: any damaged packet is an error.
    execFileSync("ffmpeg", ["-v", "error", "-xerror", "-i", file, "-f", "null", "-"]);
    return { container: json.format.format_name, codec: json.streams[0]!.codec_name, durationInSeconds: Number(json.format.duration) };
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * The simulator's speaker diarization (gpt-4o-transcribe-diarize), made to be testable: in 16-bit
 * PCM WAV audio a "voice" is the pitch of the sound (the rate of its upward zero crossings in
 * 250 ms windows, rounded to 20 Hz), so a test's tones of different pitches are different speakers and
 * silence is nobody. Segments follow the voices: a run of one voice is cut into segments of at
 * most 6 s; a speaker is labelled with the name of the known speaker whose reference clip has its
 * voice, else A, B, ... in the order the unknown voices first speak, as Azure labels them. Other
 * formats cannot be listened to here: their segments take turns between two voices by a seeded draw.
 */
import { parseWav } from "./audio-format.js";
import type { Random } from "./random.js";

const WINDOW_SECONDS = 0.25;
const MAX_SEGMENT_SECONDS = 6;
/** Windows quieter than this (RMS of full scale) are silence. */
const SILENCE_RMS = 0.01;
const PITCH_STEP_HZ = 20;

export interface VoiceRun {
  start: number;
  end: number;
  /** The voice's pitch bucket, or a seeded voice number for audio that is not PCM WAV. */
  voice: number;
}

/** Pitch bucket per window of 16-bit PCM WAV (undefined: silence); undefined when the audio is not 16-bit PCM WAV. */
function windowVoices(bytes: Buffer): { voices: (number | undefined)[]; windowSeconds: number } | undefined {
  if (bytes.toString("latin1", 0, 4) !== "RIFF" || bytes.toString("latin1", 8, 12) !== "WAVE") return undefined;
  const wav = parseWav(bytes);
  if (wav.audioFormat !== 1 || wav.bitsPerSample !== 16) return undefined;
  const frames = Math.floor(wav.dataLength / wav.blockAlign);
  const perWindow = Math.max(1, Math.round(wav.sampleRate * WINDOW_SECONDS));
  // The pitch is the rate of upward crossings between the first and the last in the window (with
  // a little hysteresis, so silence and noise do not cross), so a window that straddles the start
  // or end of speech still hears the right voice. A window under half voiced (10 ms blocks over
  // the silence level) is silence.
  const perBlock = Math.max(1, Math.round(wav.sampleRate * 0.01));
  const voices: (number | undefined)[] = [];
  for (let first = 0; first < frames; first += perWindow) {
    const last = Math.min(frames, first + perWindow);
    let voicedFrames = 0;
    let blockSquares = 0;
    let positive: boolean | undefined;
    let firstUp = -1;
    let lastUp = -1;
    let ups = 0;
    for (let frame = first; frame < last; frame++) {
      // The first channel is enough to tell voices apart.
      const sample = bytes.readInt16LE(wav.dataOffset + frame * wav.blockAlign) / 32768;
      blockSquares += sample * sample;
      if ((frame - first + 1) % perBlock === 0 || frame === last - 1) {
        const blockLength = ((frame - first) % perBlock) + 1;
        if (Math.sqrt(blockSquares / blockLength) >= SILENCE_RMS) voicedFrames += blockLength;
        blockSquares = 0;
      }
      if (sample > SILENCE_RMS / 2) {
        if (positive === false) {
          if (firstUp < 0) firstUp = frame;
          lastUp = frame;
          ups++;
        }
        positive = true;
      } else if (sample < -SILENCE_RMS / 2) positive = false;
    }
    const voiced = voicedFrames * 2 >= last - first && ups >= 2;
    const pitch = voiced ? ((ups - 1) * wav.sampleRate) / (lastUp - firstUp) : 0;
    voices.push(voiced ? Math.round(pitch / PITCH_STEP_HZ) * PITCH_STEP_HZ : undefined);
  }
  return { voices, windowSeconds: perWindow / wav.sampleRate };
}

/**
 * The runs of speech in the audio, each of one voice and at most 6 s.
 * @param duration the audio's duration (for audio that cannot be listened to).
 */
export function voiceRuns(bytes: Buffer, duration: number, random: Random): VoiceRun[] {
  const heard = windowVoices(bytes);
  const runs: VoiceRun[] = [];
  if (!heard) {
    // Not listenable: 3-6 s turns, two voices taking turns at random.
    let position = 0;
    let voice = 0;
    while (duration - position > 0.05) {
      let length = 3 + random.next() * 3;
      if (duration - position - length < 1.5) length = duration - position;
      runs.push({ start: position, end: position + length, voice });
      if (random.next() < 0.6) voice = 1 - voice;
      position += length;
    }
    return runs;
  }
  const { voices, windowSeconds } = heard;
  let i = 0;
  while (i < voices.length) {
    const voice = voices[i];
    let j = i + 1;
    while (j < voices.length && voices[j] === voice) j++;
    if (voice !== undefined) {
      const start = i * windowSeconds;
      const end = Math.min(duration, j * windowSeconds);
      for (let from = start; end - from > 0.05; from += MAX_SEGMENT_SECONDS)
        runs.push({ start: from, end: Math.min(end, from + MAX_SEGMENT_SECONDS), voice });
    }
    i = j;
  }
  return runs;
}

/** The voice that speaks most in a reference clip; undefined when it is silent or cannot be listened to. */
export function dominantVoice(bytes: Buffer): number | undefined {
  const heard = windowVoices(bytes);
  if (!heard) return undefined;
  const counts = new Map<number, number>();
  for (const voice of heard.voices) if (voice !== undefined) counts.set(voice, (counts.get(voice) ?? 0) + 1);
  let best: number | undefined;
  for (const [voice, count] of counts) if (best === undefined || count > counts.get(best)!) best = voice;
  return best;
}

/** Labels per voice: a known speaker's name when its reference has the voice, else A, B, ... in order of first speech. */
export function speakerLabels(runs: readonly VoiceRun[], known: ReadonlyMap<number, string>): Map<number, string> {
  const labels = new Map<number, string>();
  let next = 0;
  for (const run of runs) {
    if (labels.has(run.voice)) continue;
    const name = known.get(run.voice);
    labels.set(run.voice, name ?? letterLabel(next++));
  }
  return labels;
}

function letterLabel(index: number): string {
  return index < 26 ? String.fromCharCode(65 + index) : `${String.fromCharCode(65 + (index % 26))}${Math.floor(index / 26)}`;
}

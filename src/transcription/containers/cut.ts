/**
 * Cuts a clip [start, end] (seconds) out of a FLAC, Ogg, WebM or MP4/M4A file as a file of the
 * same container, from the recording's own packets (no re-encoding): the counterpart, for these
 * containers, of cut-audio.ts's WAV and MP3 clips (known-speaker reference clips). Asynchronous,
 * unlike the WAV/MP3 cutter, because mediabunny's reader and writer are.
 */
import { BadInputError } from "../../errors.js";
import { readContainerAudio, type ContainerAudio, type ContainerFormat } from "./demux.js";
import { writePackets } from "./mux.js";

/**
 * The clip of `bytes` from `start` to `end` seconds, rounded outwards to whole packets.
 * @returns the clip's bytes and the span it really covers.
 * @throws BadInputError (`invalid_clip`) for a span with no audio; demux.ts's errors for damaged files.
 */
export async function cutContainerAudio(
  bytes: Uint8Array,
  format: ContainerFormat,
  start: number,
  end: number,
): Promise<{ bytes: Uint8Array; startInSeconds: number; endInSeconds: number }> {
  const audio = await readOnce(bytes, format);
  const { packets } = audio;
  let first = 0;
  while (first + 1 < packets.length && packets.timestamp(first + 1) <= start) first++;
  let after = first + 1;
  while (after < packets.length && packets.timestamp(after) < end) after++;
  const startInSeconds = Math.max(0, packets.timestamp(first));
  const endInSeconds = after < packets.length ? packets.timestamp(after) : audio.durationInSeconds;
  if (end <= start || endInSeconds <= startInSeconds || start >= audio.durationInSeconds) {
    throw new BadInputError(`The clip ${start.toFixed(3)}-${end.toFixed(3)} s holds no audio.`, { code: "invalid_clip" });
  }
  return { bytes: await writePackets(audio, first, after), startInSeconds, endInSeconds };
}

/**
 * Clips for several speakers are cut from one recording: its packets are read once (seconds of
 * CPU for hours of audio), and forgotten with the recording's bytes.
 */
const readRecordings = new WeakMap<Uint8Array, Promise<ContainerAudio>>();

function readOnce(bytes: Uint8Array, format: ContainerFormat): Promise<ContainerAudio> {
  let audio = readRecordings.get(bytes);
  if (!audio) {
    audio = readContainerAudio(bytes, format);
    readRecordings.set(bytes, audio);
  }
  return audio;
}

/**
 * Plans the chunks of a FLAC, Ogg, WebM or MP4/M4A file over the upload limit: each chunk is a run
 * of whole packets written as a new file of the same container (mux.ts).
 *
 * Where the cut goes depends on the codec:
 * - lossless (FLAC): a packet's size follows the signal closely (silence compresses to a few
 *   bytes), so the cut goes in the run of smallest packets near the end of the chunk, as for MP3,
 *   and chunks do not overlap;
 * - lossy (Opus, Vorbis, AAC): packet sizes say little about loudness (constant-bitrate encoders,
 *   noise shaping), and finding quiet would mean decoding. Neighbouring chunks overlap instead by
 *   `overlapSeconds`; stitching drops the words the overlap repeats (overlap.ts). The overlap also
 *   gives each chunk's decoder its warm-up (pre-roll) on audio the previous chunk already covered.
 */
import { BadInputError } from "../../errors.js";
import type { AudioChunk, PlanOptions } from "../chunk-plan.js";
import { quietestRunCentre } from "../chunk-plan.js";
import { LOSSLESS_CODECS, readContainerAudio, type ContainerAudio, type ContainerFormat } from "./demux.js";
import { firstMp4AudioTrack, type Mp4AudioTrack } from "./mp4-boxes.js";
import { writeMp4Chunk } from "./mp4-chunk.js";
import { Scratch, writePacketParts } from "./mux.js";

/** Seconds neighbouring chunks of lossy audio share, unless PlanOptions says otherwise. */
export const DEFAULT_OVERLAP_SECONDS = 4;

/** Bytes a container adds per packet (sample tables, block headers, page lacing) and per file, estimated high. */
const PER_PACKET_OVERHEAD = 16;
const PER_FILE_OVERHEAD = 16 * 1024;

export interface ContainerPlan {
  durationInSeconds: number;
  chunks: AudioChunk[];
}

/**
 * Reads the file and cuts it into chunks of at most `maxChunkBytes`, each written as a file of its
 * own container: for FLAC and MP4 new headers around a view of the file's own packet bytes; for
 * Ogg and WebM a new file (new memory: about the file's size in all, plus the overlaps).
 * @throws BadInputError for corrupt, truncated or unsupported files (demux.ts), and
 *   `audio_too_large` when the limit cannot hold a few seconds of this audio.
 */
export async function planContainerChunks(bytes: Uint8Array, format: ContainerFormat, options: PlanOptions): Promise<ContainerPlan> {
  const audio = await readContainerAudio(bytes, format);
  const lossless = LOSSLESS_CODECS.includes(audio.codec);
  const overlapSeconds = lossless ? 0 : (options.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS);
  let budget = options.maxChunkBytes;
  const scratch = new Scratch();
  const mp4 = mp4TrackOf(audio, bytes);
  // The estimate of the container's overhead is generous; when a written chunk still comes out
  // over the limit, plan again with the excess taken off.
  for (let attempt = 0; attempt < 4; attempt++) {
    const ranges = cutPoints(audio, budget, options, lossless, overlapSeconds);
    const chunks: AudioChunk[] = [];
    let excess = 0;
    for (const [index, [from, to]] of ranges.entries()) {
      // MP4/M4A: the tables written directly around views of the packets (mp4-chunk.ts), else mediabunny's muxer.
      const parts =
        (mp4 && writeMp4Chunk(audio, mp4, bytes, from, to, index === 0)) ??
        (await writePacketParts(scratch, audio, bytes, from, to, index === 0));
      const byteLength = parts.reduce((sum, part) => sum + part.byteLength, 0);
      excess = Math.max(excess, byteLength - options.maxChunkBytes);
      if (excess > 0) break;
      chunks.push({
        index,
        startInSeconds: index === 0 ? 0 : audio.packets.timestamp(from),
        endInSeconds: to === audio.packets.length ? audio.durationInSeconds : audio.packets.timestamp(to),
        parts,
        byteLength,
      });
    }
    if (excess === 0) return { durationInSeconds: audio.durationInSeconds, chunks };
    budget -= excess + 4096;
  }
  throw new BadInputError(
    `TRANSCRIPTION_MAX_CHUNK_BYTES (${options.maxChunkBytes}) leaves no room for this ${audio.containerName} file's audio once its container is written; raise it.`,
    { code: "audio_too_large" },
  );
}

/**
 * The MP4 track mediabunny read the packets of, when the boxes say so beyond doubt: the first audio
 * track, with as many samples as packets were read and the codec configuration mediabunny found
 * inside its sample description. Otherwise undefined, and mediabunny writes the chunks.
 */
function mp4TrackOf(audio: ContainerAudio, bytes: Uint8Array): Mp4AudioTrack | undefined {
  if (audio.format !== "m4a" && audio.format !== "mp4") return undefined;
  const track = firstMp4AudioTrack(bytes);
  if (!track || track.sampleCount !== audio.packets.length) return undefined;
  const description = audio.decoderConfig.description;
  if (description) {
    const config = ArrayBuffer.isView(description)
      ? new Uint8Array(description.buffer, description.byteOffset, description.byteLength)
      : new Uint8Array(description);
    if (
      config.byteLength > 0 &&
      Buffer.from(track.sampleDescription.buffer, track.sampleDescription.byteOffset, track.sampleDescription.byteLength).indexOf(config) <
        0
    )
      return undefined;
  }
  return track;
}

/** Packet ranges [from, to) of each chunk. */
function cutPoints(
  audio: ContainerAudio,
  budget: number,
  options: PlanOptions,
  lossless: boolean,
  overlapSeconds: number,
): [number, number][] {
  const { packets } = audio;
  const count = packets.length;
  // Prefix sums of the estimated bytes, so a chunk's size is one subtraction.
  const sizes = new Float64Array(count + 1);
  for (let i = 0; i < count; i++) sizes[i + 1] = sizes[i]! + packets.byteLength(i) + PER_PACKET_OVERHEAD;
  const room = budget - PER_FILE_OVERHEAD;
  const ranges: [number, number][] = [];
  // A time limit too (PlanOptions.maxChunkSeconds): pieces a model answers without times for.
  const maxSeconds = options.maxChunkSeconds ?? Infinity;
  const endOf = (packet: number) => (packet >= count ? audio.durationInSeconds : packets.timestamp(packet));
  let from = 0;
  while (sizes[count]! - sizes[from]! > room || endOf(count) - packets.timestamp(from) > maxSeconds) {
    // The longest run from `from` that fits.
    let low = from + 1;
    let high = count;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (sizes[mid]! - sizes[from]! <= room) low = mid;
      else high = mid - 1;
    }
    // The longest of those within the time limit.
    high = low;
    low = from + 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (endOf(mid) - packets.timestamp(from) <= maxSeconds) low = mid;
      else high = mid - 1;
    }
    const limit = low;
    const seconds = packets.timestamp(limit) - packets.timestamp(from);
    if (seconds < Math.max(2, 2 * overlapSeconds)) {
      throw new BadInputError(
        `TRANSCRIPTION_MAX_CHUNK_BYTES (${options.maxChunkBytes}) holds only ${seconds.toFixed(1)} s of this ${audio.containerName} audio; ` +
          `chunks must hold at least ${Math.max(2, 2 * overlapSeconds)} s. Raise the limit.`,
        { code: "audio_too_large" },
      );
    }
    if (lossless) {
      const cut = quietCut(audio, from, limit, options);
      ranges.push([from, cut]);
      from = cut;
    } else {
      ranges.push([from, limit]);
      const overlapStart = packets.timestamp(limit) - overlapSeconds;
      let next = limit;
      while (next > from + 1 && packets.timestamp(next - 1) >= overlapStart) next--;
      from = next;
    }
  }
  ranges.push([from, count]);
  return ranges;
}

/** The packet to cut before: the middle of the run of smallest packets in the chunk's last stretch. */
function quietCut(audio: ContainerAudio, from: number, limit: number, options: PlanOptions): number {
  const { packets } = audio;
  const packetSeconds = Math.max(1e-3, (packets.timestamp(limit) - packets.timestamp(from)) / (limit - from));
  const searchPackets = Math.min(Math.floor((limit - from) / 4), Math.round((options.searchSeconds ?? 30) / packetSeconds));
  const runPackets = Math.max(1, Math.round((options.quietRunSeconds ?? 0.3) / packetSeconds));
  const searchStart = limit - searchPackets;
  // Bytes per second rather than per packet: some encoders vary the block size.
  const loudness = new Float64Array(searchPackets);
  for (let i = 0; i < searchPackets; i++) {
    loudness[i] = packets.byteLength(searchStart + i) / Math.max(1e-3, packets.duration(searchStart + i));
  }
  const centre = quietestRunCentre(loudness, runPackets);
  return centre === undefined ? limit : Math.max(from + 1, Math.min(limit, searchStart + centre));
}

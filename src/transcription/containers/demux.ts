/**
 * Reads the audio packets of a FLAC, Ogg (Opus, Vorbis, FLAC), WebM/Matroska (Opus, Vorbis) or
 * MP4/M4A (AAC, ...) file without decoding them, so the file can be cut on packet boundaries and
 * each piece written as a valid file of the same container (mux.ts).
 *
 * The demuxing is mediabunny's (pure TypeScript, no native code or ffmpeg, reads every container
 * Whisper accepts at the packet level). Hand-written parsers for four containers would be a
 * thousand lines of format detail that a well-kept library already gets right.
 */
import { ALL_FORMATS, BufferSource, EncodedPacketSink, Input, type AudioCodec, type EncodedPacket, type InputAudioTrack } from "mediabunny";
import { BadInputError } from "../../errors.js";
import type { ContainerFormat } from "./formats.js";
import { eachPacket } from "./each-packet.js";
import { firstMp4AudioTrack } from "./mp4-boxes.js";
import { readMp4Samples } from "./mp4-samples.js";
import { PacketList } from "./packet-list.js";

export type { ContainerFormat } from "./formats.js";

/** Codecs whose packets are written back unchanged into the same container. */
const COPYABLE_CODECS: Readonly<Record<ContainerFormat, readonly AudioCodec[]>> = {
  flac: ["flac"],
  ogg: ["opus", "vorbis", "flac"],
  webm: ["opus", "vorbis"],
  m4a: ["aac", "mp3", "opus", "flac", "ac3", "eac3"],
  mp4: ["aac", "mp3", "opus", "flac", "ac3", "eac3"],
};

/** Lossless codecs (mediabunny reads no ALAC): a packet's size follows the signal's loudness closely enough to find quiet. */
export const LOSSLESS_CODECS: readonly AudioCodec[] = ["flac"];

export interface ContainerAudio {
  format: ContainerFormat;
  /** A name for messages: "MP4", "Ogg", ... */
  containerName: string;
  codec: AudioCodec;
  decoderConfig: AudioDecoderConfig;
  /** Every packet of the first audio track in decode order. */
  packets: PacketList;
  durationInSeconds: number;
}

/**
 * Reads the first audio track's packets.
 * @throws BadInputError `corrupt_audio` when the container cannot be read or has no audio,
 *   `truncated_audio` when the file ends before the audio its header announces, and
 *   `unsupported_audio` for a codec that cannot be copied into the same container.
 */
export async function readContainerAudio(bytes: Uint8Array, format: ContainerFormat): Promise<ContainerAudio> {
  const name = CONTAINER_NAMES[format];
  const input = new Input({ source: new BufferSource(bytes), formats: ALL_FORMATS });
  try {
    let track;
    try {
      track = await input.getPrimaryAudioTrack();
    } catch (error) {
      throw corrupt(name, `its container cannot be read (${describe(error)})`);
    }
    if (!track) {
      // MP4 recorders write the sample index (moov) after the audio: a file cut short has none.
      if ((format === "m4a" || format === "mp4") && !hasTopLevelBox(bytes, "moov")) {
        throw new BadInputError(
          `The ${name} file is truncated: it has no sample index (moov box), which recorders write at the end of the file. Upload the complete file.`,
          { code: "truncated_audio" },
        );
      }
      throw corrupt(name, "it has no audio track");
    }
    const codec = track.codec;
    if (!codec || !COPYABLE_CODECS[format].includes(codec)) {
      throw new BadInputError(
        `The ${name} file's audio codec (${codec ?? "unknown"}) cannot be split by this app. ` +
          `Split files of this container must hold ${COPYABLE_CODECS[format].join(", ")} audio; convert the recording (for example to MP3) or compress it below the limit.`,
        { code: "unsupported_audio" },
      );
    }
    const decoderConfig = await track.getDecoderConfig();
    if (!decoderConfig) throw corrupt(name, "its audio track has no decoder configuration");
    const packets = new PacketList(bytes);
    try {
      // MP4/M4A: the sample tables read directly (mp4-samples.ts), when they are the track's; else mediabunny's walk.
      if (!(await readMp4Tables(bytes, format, track, packets))) await eachPacket(track, (packet) => packets.add(packet));
    } catch (error) {
      if (format === "ogg" && !endsWithWholePage(bytes)) {
        throw new BadInputError(`The Ogg file is truncated: it ends inside an Ogg page. Upload the complete file.`, {
          code: "truncated_audio",
        });
      }
      throw truncatedOrCorrupt(name, describe(error));
    }
    if (packets.length === 0) throw truncatedOrCorrupt(name, "it holds no audio packets");
    const packetsEnd = packets.timestamp(packets.length - 1) + packets.duration(packets.length - 1);
    const declared = (await track.getDurationFromMetadata().catch(() => null)) ?? packetsEnd;
    // A file cut off in transfer keeps a header that announces more audio than its packets hold
    // (FLAC's STREAMINFO, WebM's Duration); an Ogg file ends inside a page.
    if (format === "ogg" && !endsWithWholePage(bytes)) {
      throw new BadInputError(
        `The Ogg file is truncated: it ends inside an Ogg page, after ${packetsEnd.toFixed(1)} s of audio. Upload the complete file.`,
        {
          code: "truncated_audio",
        },
      );
    }
    if (declared - packetsEnd > 1) {
      throw new BadInputError(
        `The ${name} file is truncated: its header announces ${declared.toFixed(1)} s of audio but the file ends after ${packetsEnd.toFixed(1)} s. Upload the complete file.`,
        { code: "truncated_audio" },
      );
    }
    return { format, containerName: name, codec, decoderConfig, packets, durationInSeconds: Math.max(0, packetsEnd) };
  } finally {
    input.dispose();
  }
}

/**
 * Fills `packets` from an MP4's sample tables, when they are those of the track mediabunny chose:
 * its first and last packets as mediabunny reads them are the tables' first and last.
 * @returns false, with `packets` empty, otherwise.
 */
async function readMp4Tables(bytes: Uint8Array, format: ContainerFormat, track: InputAudioTrack, packets: PacketList): Promise<boolean> {
  if (format !== "m4a" && format !== "mp4") return false;
  const tables = firstMp4AudioTrack(bytes);
  if (!tables || !readMp4Samples(bytes, tables, packets)) return false;
  const sink = new EncodedPacketSink(track);
  const last = packets.length - 1;
  const same = (packet: EncodedPacket | null, i: number) =>
    packet !== null &&
    packet.data.buffer === bytes.buffer &&
    packet.data.byteOffset === packets.offset(i) &&
    packet.data.byteLength === packets.byteLength(i) &&
    Math.abs(packet.timestamp - packets.timestamp(i)) < 1e-9 &&
    Math.abs(packet.duration - packets.duration(i)) < 1e-9;
  if (same(await sink.getFirstPacket(), 0) && same(await sink.getPacket(packets.timestamp(last)), last)) return true;
  packets.clear();
  return false;
}

const CONTAINER_NAMES: Readonly<Record<ContainerFormat, string>> = { flac: "FLAC", ogg: "Ogg", webm: "WebM", m4a: "M4A", mp4: "MP4" };

function corrupt(name: string, reason: string): BadInputError {
  return new BadInputError(`The ${name} file is corrupt: ${reason}. Re-export it from the recording tool.`, { code: "corrupt_audio" });
}

/** Reading that fails part-way is most often a file cut short; say so when the bytes end abruptly. */
function truncatedOrCorrupt(name: string, reason: string): BadInputError {
  return new BadInputError(
    `The ${name} file is corrupt or truncated: ${reason}. Upload the complete file, or re-export it from the recording tool.`,
    { code: "corrupt_audio" },
  );
}

/** Whether the last Ogg page found holds exactly the bytes to the end of the file. */
function endsWithWholePage(bytes: Uint8Array): boolean {
  for (let at = bytes.byteLength - 27; at >= Math.max(0, bytes.byteLength - 70_000); at--) {
    if (bytes[at] !== 0x4f || bytes[at + 1] !== 0x67 || bytes[at + 2] !== 0x67 || bytes[at + 3] !== 0x53) continue;
    const segments = bytes[at + 26]!;
    if (at + 27 + segments > bytes.byteLength) return false;
    let length = 27 + segments;
    for (let i = 0; i < segments; i++) length += bytes[at + 27 + i]!;
    return at + length === bytes.byteLength;
  }
  return false;
}

/** Whether an ISO BMFF file has a box of `type` at its top level. */
function hasTopLevelBox(bytes: Uint8Array, type: string): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 8 <= bytes.byteLength) {
    let size = view.getUint32(at);
    if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === type) return true;
    if (size === 1 && at + 16 <= bytes.byteLength) size = Number(view.getBigUint64(at + 8));
    if (size < 8) return false;
    at += size;
  }
  return false;
}

/** mediabunny's own words, for the end of a message; its bare assertions say nothing to a user. */
function describe(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\.+$/, "");
  if (/^Assertion failed$/i.test(message)) return "a header or packet has impossible values";
  return message.length > 200 ? `${message.slice(0, 200)}...` : message;
}

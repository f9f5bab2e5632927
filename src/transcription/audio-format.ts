/**
 * Recognises the audio formats Whisper accepts from the file's first bytes. The blob's name and
 * content type are ignored: users upload `recording` or `call.dat`, and Whisper itself decides by
 * the file name we send, so the name we send is derived from what the bytes say.
 */
import { BadInputError } from "../errors.js";
import { looksLikeMpegAudio, skipId3v2 } from "./mp3.js";

export const AUDIO_FORMATS = ["flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];

/** Formats this app can cut into chunks when a file is over the upload limit. */
export const SPLITTABLE_FORMATS: readonly AudioFormat[] = ["wav", "mp3", "flac", "ogg", "webm", "m4a", "mp4"];

export const MIME_TYPES: Record<AudioFormat, string> = {
  flac: "audio/flac",
  mp3: "audio/mpeg",
  mp4: "audio/mp4",
  mpeg: "video/mpeg",
  mpga: "audio/mpeg",
  m4a: "audio/mp4",
  ogg: "audio/ogg",
  wav: "audio/wav",
  webm: "audio/webm",
};

/**
 * Names the format of `bytes`.
 * @throws BadInputError with code `empty_audio` for an empty blob, `corrupt_audio` for an ID3 tag
 *   with no audio after it, or `unsupported_audio` (naming the accepted formats) for anything else.
 */
export function detectAudioFormat(bytes: Uint8Array): AudioFormat {
  if (bytes.byteLength === 0) {
    throw new BadInputError("The file is empty (0 bytes). Send an audio file with content.", { code: "empty_audio" });
  }
  const head = ascii(bytes, 0, 4);
  if (head === "RIFF" || head === "RF64") {
    const kind = ascii(bytes, 8, 4);
    if (kind === "WAVE") return "wav";
    if (bytes.byteLength < 12) throw truncated("a RIFF header");
    throw unsupported(`it is a RIFF file of type "${kind.trim()}" (for example AVI), not WAVE audio`);
  }
  if (head === "fLaC") return "flac";
  if (head === "OggS") return "ogg";
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) {
    // EBML: the DocType element near the start says webm or matroska.
    const start = ascii(bytes, 0, 64);
    if (start.includes("webm")) return "webm";
    throw unsupported("it is a Matroska (.mkv) file; remux it to WebM or convert the audio to MP3");
  }
  if (ascii(bytes, 4, 4) === "ftyp") {
    const brand = ascii(bytes, 8, 4);
    return brand === "M4A " || brand === "M4B " ? "m4a" : "mp4";
  }
  if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 1 && (bytes[3] === 0xba || bytes[3] === 0xb3)) return "mpeg";

  const audioStart = skipId3v2(bytes, 0);
  if (audioStart > 0) {
    if (ascii(bytes, audioStart, 4) === "fLaC") return "flac";
    if (audioStart >= bytes.byteLength) throw truncated("an ID3 tag");
  }
  const frameStart = findFirstFrame(bytes, audioStart);
  if (frameStart !== undefined) {
    const layerBits = (bytes[frameStart + 1]! >> 1) & 3;
    return layerBits === 1 ? "mp3" : "mpga";
  }
  if (audioStart > 0) {
    throw new BadInputError("The file has an ID3 tag but no MPEG audio frames after it; it is corrupt. Re-export it.", {
      code: "corrupt_audio",
    });
  }
  throw unsupported(describeUnknown(bytes));
}

/** Some encoders leave a few zero bytes before the first frame; look a little way in. */
function findFirstFrame(bytes: Uint8Array, from: number): number | undefined {
  const limit = Math.min(bytes.byteLength - 4, from + 4096);
  for (let i = from; i <= limit; i++) {
    if (bytes[i] === 0xff && looksLikeMpegAudio(bytes, i)) return i;
    if (bytes[i] !== 0 && bytes[i] !== 0xff && i - from > 16) return undefined;
  }
  return undefined;
}

function describeUnknown(bytes: Uint8Array): string {
  const head = ascii(bytes, 0, 8);
  if (head.startsWith("%PDF")) return "it is a PDF document";
  if (head.startsWith("\x89PNG")) return "it is a PNG image";
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "it is a JPEG image";
  if (head.startsWith("PK\x03\x04")) return "it is a ZIP archive (or an Office document)";
  const sample = bytes.subarray(0, 512);
  if (sample.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128)) return "it looks like text";
  const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `its first bytes are ${hex}`;
}

function unsupported(what: string): BadInputError {
  return new BadInputError(`The file is not audio in a supported format: ${what}. Supported formats: ${AUDIO_FORMATS.join(", ")}.`, {
    code: "unsupported_audio",
  });
}

function truncated(what: string): BadInputError {
  return new BadInputError(`The file is truncated: it ends inside ${what}. Upload the complete file.`, { code: "truncated_audio" });
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

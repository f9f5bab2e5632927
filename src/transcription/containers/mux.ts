/**
 * Writes a run of packets read by demux.ts as a complete file of the same container (mediabunny's
 * muxers: headers, sample tables, page granules and durations are written for the new file, the
 * packets' bytes are copied unchanged, nothing is decoded or re-encoded).
 */
import {
  BufferTarget,
  EncodedAudioPacketSource,
  FlacOutputFormat,
  Mp4OutputFormat,
  OggOutputFormat,
  Output,
  WebMOutputFormat,
  type OutputFormat,
} from "mediabunny";
import type { ContainerAudio, ContainerFormat } from "./demux.js";

function outputFormat(format: ContainerFormat): OutputFormat {
  switch (format) {
    case "flac":
      return new FlacOutputFormat();
    case "ogg":
      return new OggOutputFormat();
    case "webm":
      return new WebMOutputFormat();
    case "m4a":
    case "mp4":
      // Sample tables after the samples: written as the packets stream in, with no second copy held.
      return new Mp4OutputFormat({ fastStart: false });
  }
}

/**
 * The packets [from, to) as a file of `audio`'s container, their times moved so the first starts
 * at 0 (a file that starts later reads as leading silence to some decoders). With `keepTimes` they
 * stay as they were: the first chunk keeps an encoder's priming (a first packet before 0).
 */
export async function writePackets(audio: ContainerAudio, from: number, to: number, keepTimes = false): Promise<Uint8Array> {
  const output = new Output({ format: outputFormat(audio.format), target: new BufferTarget() });
  const source = new EncodedAudioPacketSource(audio.codec);
  output.addAudioTrack(source);
  await output.start();
  const shift = keepTimes ? 0 : audio.packets[from]!.timestamp;
  for (let i = from; i < to; i++) {
    const packet = audio.packets[i]!;
    await source.add(
      packet.clone({ timestamp: packet.timestamp - shift }),
      i === from ? { decoderConfig: audio.decoderConfig } : undefined,
    );
  }
  await output.finalize();
  return new Uint8Array((output.target as BufferTarget).buffer!);
}

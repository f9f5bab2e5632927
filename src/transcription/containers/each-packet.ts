/**
 * Visits every packet of a track in decode order, one at a time.
 *
 * Not mediabunny's `EncodedPacketSink.packets()` iterator: it is made for playback, and keeps a
 * queue of up to one second's worth of packets (measured by wall-clock time of consumption) plus a
 * list of the times each was taken, trimmed with `Array.shift()`. A consumer that only indexes
 * packets takes some 100,000 a second, so the queue holds that many packet objects alive and each
 * shift moves them all: for a two-hour AAC recording (284,000 packets) about 2.6 s of CPU and tens
 * of MB of heap that a plain `getFirstPacket`/`getNextPacket` walk does not cost (bench/
 * transcription-formats.ts; docs/transcription.md, Performance). Each packet is garbage as soon
 * as the next is fetched.
 */
import { EncodedPacketSink, type EncodedPacket, type InputTrack } from "mediabunny";

export async function eachPacket(track: InputTrack, visit: (packet: EncodedPacket) => void): Promise<void> {
  const sink = new EncodedPacketSink(track);
  for (let packet = await sink.getFirstPacket(); packet; packet = await sink.getNextPacket(packet)) visit(packet);
}

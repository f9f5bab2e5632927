/**
 * The speech container's blobs:
 *   {id}.{format}  the audio, whole (one Put Blob), with metadata naming the render that made it
 *   {id}.json      the record (voice, format, duration, characters, parts...), written last: its
 *                  presence means the audio next to it is complete and is the one it describes
 * plus the queue pipelines' `{id}.error.json` and `.handback/` blobs (src/queue-jobs/job-store.ts).
 */
import { JobStore } from "../queue-jobs/job-store.js";
import type { SpeechFormat } from "./message-schema.js";

export interface SpeechPartRecord {
  index: number;
  characters: number;
  /** Seconds of this part's audio (null when the format does not say: opus, aac). */
  duration: number | null;
  bytes: number;
  /** The backend (table name) that spoke this part. */
  backend: string;
}

export interface SpeechRecord {
  id: string;
  /** The audio blob's name in the container. */
  audio: string;
  voice: string;
  format: SpeechFormat;
  instructions?: string;
  /** Seconds of audio (null when the format does not say: opus, aac). */
  duration: number | null;
  characters: number;
  bytes: number;
  parts: SpeechPartRecord[];
  /** The routing table's model the parts went to. */
  model: string;
  /** The deployment that spoke the first part (each part names its backend). */
  deployment: string;
  /** When the message was first enqueued. */
  createdAt: string;
  /** Hash of what was asked (text, voice, format, instructions, model, createdAt): a redelivery has the same. */
  fingerprint: string;
  /** Which run made the audio; the audio blob's metadata names the same. */
  render: string;
}

export const AUDIO_CONTENT_TYPES: Record<SpeechFormat, string> = {
  mp3: "audio/mpeg",
  opus: "audio/ogg",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
};

export function speechRecordName(id: string): string {
  return `${id}.json`;
}

export function speechAudioName(id: string, format: SpeechFormat): string {
  return `${id}.${format}`;
}

export class SpeechStore extends JobStore {
  /**
   * The record for `id` when it describes this very request and the audio beside it is that
   * record's (a run that lost its claim mid-way could have left another's audio): the work is done.
   */
  async finished(id: string, fingerprint: string): Promise<SpeechRecord | undefined> {
    const record = await this.readJson<SpeechRecord>(speechRecordName(id));
    if (record?.fingerprint !== fingerprint) return undefined;
    try {
      const properties = await this.container.getBlobClient(record.audio).getProperties();
      return properties.metadata?.render === record.render ? record : undefined;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Whether a record exists for `id` (a hand-back reference whose blob is gone may have been done). */
  async hasOutput(id: string): Promise<boolean> {
    return this.container.getBlobClient(speechRecordName(id)).exists();
  }

  /** Removes the record of earlier, different work with this id, so no reader pairs it with the new audio. */
  async removeRecord(id: string): Promise<void> {
    await this.container.getBlockBlobClient(speechRecordName(id)).deleteIfExists();
  }

  async writeAudio(record: SpeechRecord, audio: Buffer): Promise<void> {
    await this.writeBytes(record.audio, audio, AUDIO_CONTENT_TYPES[record.format], {
      metadata: { render: record.render, fingerprint: record.fingerprint },
    });
  }

  async writeRecord(record: SpeechRecord): Promise<void> {
    await this.writeJson(speechRecordName(record.id), record);
  }
}

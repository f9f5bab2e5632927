/** The speech queue pipeline, loaded by its queue trigger on first message (src/functions/speak-queue-message.ts). */
export { processSpeechMessage, type SpeechMessageDependencies, type SpeechDone } from "./process-message.js";
export { speechQueueDependencies } from "./runtime.js";
export { renderSpeech, speechParts, SPEECH_PART_CONCURRENCY, type RenderSpeechDependencies } from "./render-speech.js";
export { parseSpeechMessage, SPEECH_VOICES, SPEECH_FORMATS, type SpeechJob, type SpeechFormat } from "./message-schema.js";
export { type SpeechRecord } from "./speech-store.js";

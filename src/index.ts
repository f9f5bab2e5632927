// The app's entry point (package.json "main"). Import order matters: setup runs before any registration.
import "./setup.js";

// One import per function module; each registers itself with app.*.
import "./functions/health.js";
import "./functions/usage.js";
import "./functions/chat-completions.js";
import "./functions/models.js";
import "./functions/embeddings-http.js";
import "./functions/responses.js";
import "./functions/audio-speech.js";
import "./functions/images.js";
import "./functions/completions.js";
import "./functions/audio-transcriptions.js";
import "./functions/unknown-route.js";
import "./functions/transcribe-audio.js";
import "./functions/get-transcription.js";
import "./functions/transcription-given-up.js";
import "./functions/console.js";
import "./functions/console-upload-audio.js";
import "./functions/console-list-transcriptions.js";
import "./functions/console-read-output.js";
import "./functions/console-enqueue.js";
import "./functions/embed-queue-message.js";
import "./functions/speak-queue-message.js";
import "./functions/imagine-queue-message.js";

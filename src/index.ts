import { app } from "@azure/functions";

// Streamed HTTP bodies (chat SSE) need the library's HTTP proxy; it must be on before any registration.
app.setup({ enableHttpStream: true });

// One import per function module; each registers itself with app.*.

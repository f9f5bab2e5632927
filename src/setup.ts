import { app } from "@azure/functions";
import { getProcessConfig } from "./config.js";
import { startMetrics } from "./metrics/start.js";

// Streamed HTTP bodies (chat SSE) need the library's HTTP proxy; it must be on before any registration,
// which is why index.ts imports this module first.
app.setup({ enableHttpStream: true });

// Fail at startup with one error listing every bad setting, instead of on the first invocation.
// Metrics start with the settings; their exporter loads in the background.
startMetrics(getProcessConfig());

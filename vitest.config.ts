import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The benchmarks' smoke run is `npm run bench:smoke` (vitest.bench-smoke.config.ts), which CI runs.
    exclude: ["test/bench-smoke/**", "**/node_modules/**"],
    // Integration tests start Azurite, the simulator and the local host: give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
  },
});

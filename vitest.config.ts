import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The benchmarks' smoke run is `npm run bench:smoke` (vitest.bench-smoke.config.ts), which CI runs.
    exclude: ["test/bench-smoke/**", "**/node_modules/**"],
    // Integration tests start Azurite, the simulator and the local host: give them room on a 2-core machine.
    // Three workers, not two: the suite spends much of its time waiting (queue visibility, polling,
    // child processes starting), so a third file in flight uses the cores a two-worker run leaves idle.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 3,
  },
});

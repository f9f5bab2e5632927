import { defineConfig } from "vitest/config";

/** `npm run bench:smoke`: every benchmark on tiny inputs, so a broken benchmark is caught in CI, not on release day. */
export default defineConfig({
  test: {
    include: ["test/bench-smoke/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
  },
});

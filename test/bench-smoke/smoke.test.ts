/**
 * Every benchmark still runs, on tiny inputs. Not part of `npm test` (it takes a minute and a half
 * on two cores and proves nothing about the app a user runs); `npm run bench:smoke` runs it and
 * `.ci/run` makes it part of every CI run.
 */
import { describe, expect, it } from "vitest";
import { BENCHMARKS } from "../../bench/benchmarks.js";

describe("benchmarks still run (tiny inputs; the real runs are `npm run bench`)", () => {
  it.each(BENCHMARKS.map((b) => [b.name, b] as const))(
    "%s",
    async (_name, benchmark) => {
      const figures = await benchmark.run({ tiny: true, log: () => undefined });
      expect(figures.length).toBeGreaterThan(0);
      for (const figure of figures) {
        expect(Number.isFinite(figure.value), `${figure.name} is a number`).toBe(true);
        expect(figure.unit).toBeTruthy();
        if (figure.baseline) expect(Number.isFinite(figure.baseline.value)).toBe(true);
      }
    },
    180_000,
  );
});

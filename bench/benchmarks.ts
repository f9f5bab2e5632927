import { coldStart } from "./cold-start.js";
import type { Benchmark } from "./harness.js";

/** Every benchmark `npm run bench` knows, in the order they run. */
export const BENCHMARKS: readonly Benchmark[] = [coldStart];

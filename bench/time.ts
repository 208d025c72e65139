/** Timing for the benchmarks: speed is shown by `deno task bench`, never by a timed test. */
import { oneAhead } from "../gpu/ahead.ts";

/** Wall times in ms of `fn` (which must wait for its GPU work) over `reps` runs after one warm-up. */
export interface Timing {
  /** The median run. */
  median: number;
  /** The fastest run. */
  min: number;
  /** The slowest run. */
  max: number;
}

/** The median of `values` (the upper one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Times `fn` (which must wait for its GPU work) over `reps` runs after one warm-up. */
export async function timeIt(fn: () => Promise<void>, reps = 5): Promise<Timing> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times) };
}

/**
 * Milliseconds per step of `step` run back to back with one step in flight, as `sg3 generate`, `sg3 fid` and
 * `sg3 eq-metrics` run their batches (gpu/ahead.ts): the next step is recorded while the GPU runs this one, and
 * the 10 ms or more that each readback waits in Deno's `mapAsync` after the GPU is done (README, "Performance")
 * overlap the next step's work. `step` records its GPU work and returns its readback. Timed from the first
 * step's recording to the last step's result, over `reps` steps, so that every step's work counts whenever its
 * result comes back (timed from the first result, it once missed a step: results came in pairs then).
 */
export async function timeStream(step: () => Promise<unknown>, reps = 5): Promise<number> {
  const start = performance.now();
  for await (const _ of oneAhead(Array.from({ length: reps }), step)) { /* results in order */ }
  return (performance.now() - start) / reps;
}

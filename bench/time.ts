/** Timing for the benchmarks: speed is shown by `deno task bench`, never by a timed test. */

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

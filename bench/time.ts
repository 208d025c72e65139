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

/** Times `fn` (which must wait for its GPU work) over `reps` runs after one warm-up. */
export async function timeIt(fn: () => Promise<void>, reps = 5): Promise<Timing> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1] };
}

/** Timing for the benchmarks: speed is shown by `deno task bench`, never by a timed test. */

/** Median wall time in ms of `fn` (which must wait for its GPU work) over `reps` runs after one warm-up. */
export async function timeIt(fn: () => Promise<void>, reps = 5): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

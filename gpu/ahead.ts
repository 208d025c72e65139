/**
 * One step ahead: a loop over GPU steps (batches) whose next step is recorded while the GPU runs the current one
 * and submitted before the current step's result is handed out, so that the GPU works on step k + 1 while the
 * caller handles step k (PNG encoding, statistics), and the host's recording of a step (tens of milliseconds
 * for a network's hundreds of launches) no longer leaves the GPU idle between steps. Deno's WebGPU (2.9) blocks
 * the calling thread in `mapAsync` (and `onSubmittedWorkDone`) until everything submitted so far has run, so
 * a step's work is submitted only once the previous step's readback has made its map request (readBytes,
 * gpu/readback.ts), and the next step's readback maps only after this one has come back and the caller's
 * handling of it has run (readBytes waits for the earlier readback, then for a later task).
 */

/**
 * Yields `submit(step)`'s results in the order of `steps`: step k + 1 is recorded (`submit` called), then step
 * k's result is awaited and handed out; step k + 1's work goes to the GPU when step k's readback maps. `submit`
 * records the step's GPU work and starts its readback (e.g. returns `readTensor(...).then(...)`). Stopping the
 * iteration early waits for the steps in flight.
 */
export async function* oneAhead<S, R>(
  steps: Iterable<S>,
  submit: (step: S) => Promise<R>,
): AsyncGenerator<R> {
  const it = steps[Symbol.iterator]();
  const next = (): Promise<R> | null => {
    const r = it.next();
    if (r.done) return null;
    const result = submit(r.value);
    // Observed when awaited; until then a failure of the step ahead must not count as unhandled.
    result.catch(() => {});
    return result;
  };
  let pending = next(), ahead: Promise<R> | null = null;
  try {
    while (pending) {
      ahead = next();
      const value = await pending;
      pending = ahead;
      ahead = null;
      yield value;
    }
  } finally {
    for (const step of [pending, ahead]) if (step) await step.catch(() => {});
  }
}

/** The first index of each batch of `batch` in first..end: first, first + batch, ... */
export function batchStarts(first: number, end: number, batch: number): number[] {
  return Array.from({ length: Math.max(0, Math.ceil((end - first) / batch)) }, (_, i) => first + i * batch);
}

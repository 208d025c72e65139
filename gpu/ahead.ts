/**
 * One step ahead: a loop over GPU steps (batches) whose next step is submitted before the current step's
 * result is handed out, so that the GPU works on step k + 1 while the caller handles step k (PNG encoding,
 * statistics). Deno's WebGPU (2.9) blocks the calling thread in `mapAsync` (and `onSubmittedWorkDone`) until
 * everything submitted so far has run, so a step's readback must be mapped before the next step is submitted,
 * and the next step's readback only after the caller is done with this one (readBytes, gpu/readback.ts, maps
 * in a later task than the one that records it).
 */

/**
 * Yields `submit(step)`'s results in the order of `steps`: step k's result is awaited, then step k + 1 is
 * submitted, then step k's result is handed out. `submit` records and flushes the step's GPU work and starts
 * its readback (e.g. returns `readTensor(...).then(...)`). Stopping the iteration early waits for the step in
 * flight.
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
  let pending = next();
  try {
    while (pending) {
      const value = await pending;
      pending = next();
      yield value;
    }
  } finally {
    if (pending) await pending.catch(() => {});
  }
}

/** The first index of each batch of `batch` in first..end: first, first + batch, ... */
export function batchStarts(first: number, end: number, batch: number): number[] {
  return Array.from({ length: Math.max(0, Math.ceil((end - first) / batch)) }, (_, i) => first + i * batch);
}

/**
 * One step ahead: a loop over GPU steps (batches) whose next step is submitted before the current step's
 * result is awaited, so that the GPU works on step k + 1 while the caller handles step k (PNG encoding,
 * statistics), and the readback's latency (Deno's WebGPU resolves a mapping at least 10 ms after it is
 * asked) is paid while the GPU is busy rather than between steps.
 */

/**
 * Yields `submit(step)`'s results in the order of `steps`, each step submitted one step before its result
 * is awaited: `submit` records and flushes the step's GPU work and starts its readback (e.g. returns
 * `readTensor(...).then(...)`). Stopping the iteration early waits for the step in flight.
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
      const current = pending;
      pending = next();
      yield await current;
    }
  } finally {
    if (pending) await pending.catch(() => {});
  }
}

/** The first index of each batch of `batch` in first..end: first, first + batch, ... */
export function batchStarts(first: number, end: number, batch: number): number[] {
  return Array.from({ length: Math.max(0, Math.ceil((end - first) / batch)) }, (_, i) => first + i * batch);
}

/**
 * How many worker threads a host-side job (PNG encoding, feature statistics) may start: `SG3_THREADS` when set
 * (a whole number, 0 for none), else none on machines with fewer than 4 logical cores (there the GPU driver,
 * or llvmpipe, needs them) and one less than the cores, at most 8, on others.
 */
export function helperThreads(cores = navigator.hardwareConcurrency ?? 1): number {
  let given: string | undefined;
  try {
    given = Deno.env.get("SG3_THREADS");
  } catch { /* no permission to read the environment: the default */ }
  if (given !== undefined && /^\d+$/.test(given.trim())) return Math.min(64, Number(given));
  return cores >= 4 ? Math.min(8, cores - 1) : 0;
}

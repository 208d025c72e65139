import { UserError } from "../errors.ts";

/** The most worker threads `SG3_THREADS` may ask for. */
const MAX_THREADS = 64;

/**
 * How many worker threads a host-side job (PNG encoding, dataset decoding, feature statistics) may start:
 * `SG3_THREADS` when set (a whole number from 0, none, to {@link MAX_THREADS}; anything else is a UserError),
 * else none on machines with fewer than 4 logical cores (there the GPU driver, or llvmpipe, needs them) and one
 * less than the cores, at most 8, on others.
 */
export function helperThreads(cores = navigator.hardwareConcurrency ?? 1): number {
  let given: string | undefined;
  try {
    given = Deno.env.get("SG3_THREADS");
  } catch { /* no permission to read the environment: the default */ }
  if (given === undefined || given.trim() === "") return cores >= 4 ? Math.min(8, cores - 1) : 0;
  const n = /^\s*\d+\s*$/.test(given) ? Number(given) : NaN;
  if (!(n <= MAX_THREADS)) {
    throw new UserError(
      `SG3_THREADS must be a whole number of worker threads from 0 (none) to ${MAX_THREADS}, not "${given}"`,
    );
  }
  return n;
}

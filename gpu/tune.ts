/**
 * Measuring kernel variants for the tuner (gpu/tuner.ts): a workload (e.g. one forward pass) runs once per
 * candidate round, every tunable shape taking its round's candidate, with each dispatch timed by timestamp
 * queries; the fastest candidate per shape goes into the tuning cache.
 */
import type { Gpu } from "./device.ts";
import { OpProfiler } from "./profile.ts";
import type { TuneEntry } from "./tuner.ts";

/**
 * Tunes every tunable kernel that `workload` launches: one round per candidate index (as many as the
 * longest candidate list), each run `reps` times, keeping per tag (kernel, shape, candidate) the least
 * GPU time of a run. Needs `timestamp-query`; returns the new cache entries.
 */
export async function tuneWith(
  gpu: Gpu,
  workload: () => Promise<void>,
  opts: { reps?: number; maxRounds?: number; onRound?: (round: number, rounds: number) => void } = {},
): Promise<Record<string, TuneEntry>> {
  if (!gpu.profilable) throw new Error("this adapter has no timestamp-query feature, which tuning needs");
  const profiler = new OpProfiler(gpu.device);
  const times = new Map<string, number>();
  let rounds = 1;
  try {
    for (let round = 0; round < rounds; round++) {
      gpu.tuner.beginRound(round);
      for (let rep = 0; rep < (opts.reps ?? 2); rep++) {
        gpu.submission.profiler = profiler;
        profiler.reset();
        await workload();
        await gpu.sync();
        await profiler.drain();
        // A candidate's time is its GPU time over the whole workload (all its dispatches: a variant may
        // take several passes, and a shape may occur several times).
        for (const [tag, t] of profiler.tagged) times.set(tag, Math.min(times.get(tag) ?? Infinity, t.ms));
      }
      // The first round met every shape: now the number of rounds is known (1 if all are cached).
      if (round === 0) rounds = Math.min(opts.maxRounds ?? Infinity, gpu.tuner.rounds);
      opts.onRound?.(round + 1, rounds);
    }
  } finally {
    gpu.submission.profiler = null;
  }
  return gpu.tuner.finish(times);
}

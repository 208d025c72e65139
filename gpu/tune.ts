/**
 * Measuring kernel variants for the tuner (gpu/tuner.ts): a workload (e.g. one forward pass) runs once per
 * candidate round, every tunable shape taking its round's candidate, with each dispatch timed by timestamp
 * queries; the fastest candidate per shape, confirmed against the default in runs of their own, goes into the
 * tuning cache.
 */
import type { Gpu } from "./device.ts";
import { OpProfiler } from "./profile.ts";
import type { TuneEntry } from "./tuner.ts";

/**
 * Tunes every tunable kernel that `workload` launches: one round per candidate index (as many as the
 * longest candidate list), each run `reps` times, keeping per tag (kernel, shape, candidate) the least
 * GPU time of a run; then, where a shape's fastest candidate is not its default, `reps` pairs of runs with
 * every such shape on its leader, then on its default, and the leader is kept only if it wins there too.
 * Needs `timestamp-query`; returns the new cache entries.
 */
export async function tuneWith(
  gpu: Gpu,
  workload: () => Promise<void>,
  opts: { reps?: number; maxRounds?: number; onRound?: (round: number, rounds: number) => void } = {},
): Promise<Record<string, TuneEntry>> {
  if (!gpu.profilable) throw new Error("this adapter has no timestamp-query feature, which tuning needs");
  const profiler = new OpProfiler(gpu.device);
  const reps = opts.reps ?? 2;
  // A candidate's time is its least GPU time over the runs of the workload, each the sum of all its dispatches
  // (a variant may take several passes, and a shape may occur several times).
  const measure = async (into: Map<string, number>) => {
    gpu.submission.profiler = profiler;
    profiler.reset();
    await workload();
    await gpu.sync();
    await profiler.drain();
    for (const [tag, t] of profiler.tagged) into.set(tag, Math.min(into.get(tag) ?? Infinity, t.ms));
  };
  const times = new Map<string, number>(), confirmed = new Map<string, number>();
  let rounds = 1;
  try {
    for (let round = 0; round < rounds; round++) {
      gpu.tuner.beginRound(round);
      for (let rep = 0; rep < reps; rep++) await measure(times);
      // The first round met every shape: now the number of rounds is known (1 if all are cached).
      if (round === 0) rounds = Math.min(opts.maxRounds ?? Infinity, gpu.tuner.rounds);
      opts.onRound?.(round + 1, rounds);
    }
    // The least of many timings per shape favours a candidate that was timed in a quiet moment: each leader
    // runs again against its default, in alternation, and is kept only if it wins again.
    const leaders = gpu.tuner.leaders(times);
    for (let rep = 0; leaders.size && rep < reps; rep++) {
      for (const leading of [true, false]) {
        gpu.tuner.confirm(leaders, leading);
        await measure(confirmed);
      }
    }
  } finally {
    gpu.tuner.confirm(null);
    gpu.submission.profiler = null;
  }
  return gpu.tuner.finish(times, confirmed);
}

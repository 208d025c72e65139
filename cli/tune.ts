/**
 * `sg3 tune`: times the candidate variants of every tunable kernel (convolution tiles, ...) on the
 * current adapter for the layer shapes of a network (and/or of the FID Inception network) and caches the
 * winners per adapter, driver and shape (gpu/tuner.ts), so that every later run on this adapter uses them.
 */
import { EMBEDDED, NETWORK_OPTS, openGenerator, openNetwork, planNetwork } from "./network.ts";
import { batchOption, FP16_OPT, GPU_OPTS, JSON_OPT } from "./common_options.ts";
import { flag, int, parseOptions, usage } from "./options.ts";
import { UserError } from "../errors.ts";
import { Gpu } from "../gpu/device.ts";
import type { TuneEntry } from "../gpu/tuner.ts";
import { tuneWith } from "../gpu/tune.ts";
import { Inception } from "../models/inception.ts";
import { generatorWorkload, inceptionWorkload } from "./autotune.ts";
import { fixtureStateDict, fromPytorchFid } from "../models/inception_weights.ts";

/** The options of `sg3 tune`, declared once. */
export const OPTIONS = {
  ...NETWORK_OPTS,
  ...batchOption("images (the batch the shapes are tuned for; use the batch of your runs)", 1),
  inception: flag("also tune the Inception network of 'sg3 fid' (299x299 inputs)"),
  ...FP16_OPT,
  reps: int("N", "runs per candidate, the fastest counts", 2, 1, 100),
  retune: flag("measure shapes that are already in the cache again"),
  adapter: GPU_OPTS.adapter,
  ...JSON_OPT,
};

/** Usage text of `sg3 tune`. */
export const USAGE = usage(
  "sg3 tune [--network NET | --cfg stylegan3-t|stylegan3-r|stylegan2 --res N --cbase N --cmax N] [--inception]",
  `  Times the variants of each tunable kernel for the network's layer shapes on this adapter and caches the
  fastest per adapter, driver and shape in <cache>/tune.json ($SG3_CACHE, else $XDG_CACHE_HOME/sg3, else
  ~/.cache/sg3); later runs on this adapter use them (--tune off in other commands ignores the cache).
  Without --network/--cfg: the embedded default network; --inception alone tunes only the FID network.`,
  OPTIONS,
);

/** Runs `sg3 tune`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values: v, given } = parseOptions(args, OPTIONS);
  const { batch, reps } = v;
  const generator = v.network !== undefined || v.cfg !== undefined || !v.inception;
  const chosen = generator ? await openNetwork(planNetwork(v, given, EMBEDDED)) : null;
  const gpu = await Gpu.open({ adapter: v.adapter });
  if (!gpu.profilable) throw new UserError("this adapter has no timestamp-query feature, which tuning needs");
  gpu.tuner.retune = v.retune;
  const found: Record<string, TuneEntry> = {};
  const progress = (what: string) => (round: number, rounds: number) => {
    if (!v.json) console.error(`${what}: candidate round ${round}/${rounds}`);
  };
  if (chosen) {
    const gen = await openGenerator(gpu, chosen, { fp16: v.fp16 });
    const workload = generatorWorkload(gpu, gen, batch);
    Object.assign(found, await tuneWith(gpu, workload, { reps, onRound: progress(chosen.label) }));
    gen.destroy();
  }
  if (v.inception) {
    // The weights do not change the timings: the tuner only sees the layer shapes.
    const sd = fixtureStateDict();
    const net = Inception.create(gpu, fromPytorchFid((k) => sd.get(k)));
    const workload = inceptionWorkload(gpu, net, batch);
    Object.assign(found, await tuneWith(gpu, workload, { reps, onRound: progress("inception") }));
    net.destroy();
  }
  gpu.destroy();
  if (v.json) {
    console.log(JSON.stringify({ adapter: gpu.summary.description, cache: gpu.tuner.path(), tuned: found }));
    return 0;
  }
  const rows = Object.entries(found);
  console.log(`adapter: ${gpu.summary.description}; cache: ${gpu.tuner.path()}`);
  if (!rows.length) {
    console.log("every shape was already tuned on this adapter (--retune measures them again)");
    return 0;
  }
  console.log("| kernel and shape | default ms | tuned ms | speed-up | variant |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const [key, e] of rows) {
    console.log(
      `| ${key} | ${e.default_ms.toFixed(2)} | ${e.ms.toFixed(2)} | ${(e.default_ms / e.ms).toFixed(2)}x | ${
        JSON.stringify(e.variant)
      } |`,
    );
  }
  return 0;
}

/**
 * Tuning workloads and the automatic tuning of new shapes. `sg3 tune` and, on hardware adapters, the first
 * run that meets a layer shape the tuning cache lacks time the kernel variants over one forward pass per
 * candidate round (gpu/tune.ts). Software adapters (llvmpipe) are not tuned automatically: a round there
 * costs seconds, more than short runs save; `sg3 tune` does it on request.
 */
import type { Gpu } from "../gpu/device.ts";
import { readBytes } from "../gpu/readback.ts";
import { tuneWith } from "../gpu/tune.ts";
import type { TuneEntry } from "../gpu/tuner.ts";
import type { Generator } from "../models/generator.ts";
import { RandomState } from "../models/latents.ts";
import { type Inception, preprocess } from "../models/inception.ts";
import {
  type ChosenNetwork,
  type NetworkPlan,
  openGenerator,
  openNetwork,
  requireInputTransform,
} from "./network.ts";
import { type GPU_OPTS, openGpu } from "./common_options.ts";
import type { Values } from "./options.ts";

/** One forward pass of `gen` at `batch` (z from RandomState(0)). */
export function generatorWorkload(gpu: Gpu, gen: Generator, batch: number): () => Promise<void> {
  const z = new RandomState(0).randn(batch * gen.zDim);
  const c = gen.cDim
    ? Float32Array.from({ length: batch * gen.cDim }, (_, i) => (i % gen.cDim === 0 ? 1 : 0))
    : undefined;
  return async () => {
    const ws = gen.mapping(z, batch, { c });
    const img = gen.synthesis(ws);
    await readBytes(gpu, img.buffer, 0, 4);
    ws.destroy();
    img.destroy();
  };
}

/** One Inception pass at `batch` over 299x299 uint8 images (the layer shapes of `sg3 fid`). */
export function inceptionWorkload(gpu: Gpu, net: Inception, batch: number): () => Promise<void> {
  const bytes = Uint8Array.from({ length: batch * 299 * 299 * 3 }, (_, i) => (i * 31) % 256);
  return async () => {
    const out = net.forward(preprocess(gpu, bytes, batch, 299, 299, 3, "stylegan3"));
    await readBytes(gpu, out.pool3.buffer, 0, 4);
  };
}

/**
 * Opens what a generator run needs, in order: the planned network (refused when `moves` names options that
 * move StyleGAN3's input transform and the network has none), the GPU, the generator (float16 layers when
 * `fp16`), tuned for shapes the cache lacks on hardware adapters ({@link tuneNewShapes}) at `batch`.
 */
export async function openGeneratorRun(
  plan: NetworkPlan,
  v: Values<typeof GPU_OPTS> & { batch: number; quiet: boolean },
  opts: { fp16: boolean; moves: ((chosen: ChosenNetwork) => string) | null },
): Promise<{ chosen: ChosenNetwork; gpu: Gpu; gen: Generator }> {
  const chosen = await openNetwork(plan);
  if (opts.moves) requireInputTransform(chosen, opts.moves(chosen));
  const gpu = await openGpu(v);
  const gen = await openGenerator(gpu, chosen, { fp16: opts.fp16 });
  await tuneNewShapes(gpu, generatorWorkload(gpu, gen, Math.min(v.batch, gen.maxBatch)), v.quiet);
  return { chosen, gpu, gen };
}

/**
 * With tuning on and a hardware adapter that can time dispatches, measures the variants of the shapes
 * `workload` meets that the cache lacks (one run per candidate round) and caches the winners; says so
 * unless `quiet`. Returns the new cache entries (none on software adapters or with `--tune off`).
 */
export async function tuneNewShapes(
  gpu: Gpu,
  workload: () => Promise<void>,
  quiet: boolean,
): Promise<Record<string, TuneEntry>> {
  if (gpu.tuner.mode !== "on" || gpu.summary.isFallback || !gpu.profilable) return {};
  const t0 = performance.now();
  const found = await tuneWith(gpu, workload, { reps: 1 });
  const n = Object.keys(found).length;
  if (n && !quiet) {
    console.error(
      `tuned ${n} kernel shape${n === 1 ? "" : "s"} for this adapter in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s ` +
        "(cached; --tune off uses the defaults)",
    );
  }
  return found;
}

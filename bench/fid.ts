/**
 * `deno run -A bench/fid.ts [--batch N] [--reps N] [--dim 2048]`: FID timings on the current adapter:
 * Inception forward (images/s, preprocessing included, median over reps after a warm-up), float64
 * statistics accumulation (images/s at 2048 features) and the Fréchet distance at d = 2048.
 */
import { parseArgs } from "node:util";
import { Gpu } from "../gpu/device.ts";
import { readTensor } from "../gpu/readback.ts";
import { Inception, preprocess } from "../models/inception.ts";
import { fixtureStateDict, fromPytorchFid } from "../models/inception_weights.ts";
import { FeatureStats } from "../metrics/feature_stats.ts";
import { GramPool } from "../metrics/gram_pool.ts";
import { helperThreads } from "../formats/threads.ts";
import { frechetDistance } from "../metrics/fid.ts";
import { timeIt } from "./time.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string" },
    reps: { type: "string", default: "3" },
    dim: { type: "string", default: "2048" },
    adapter: { type: "string" },
  },
});
const gpu = await Gpu.open({ adapter: values.adapter });
const batch = Number(values.batch ?? (gpu.summary.isFallback ? 2 : 32));
const reps = Number(values.reps);
console.log(`adapter: ${gpu.summary.description}  deno ${Deno.version.deno}`);

const sd = fixtureStateDict();
const net = Inception.create(gpu, fromPytorchFid((k) => sd.get(k)));
const bytes = Uint8Array.from({ length: batch * 256 * 256 * 3 }, (_, i) => (i * 31) % 256);
const { median: ms } = await timeIt(async () => {
  const out = net.forward(preprocess(gpu, bytes, batch, 256, 256, 3, "stylegan3"));
  await readTensor(gpu, out.pool3);
}, reps);
console.log(
  `inception 256->299, batch ${batch}: ${(ms / batch).toFixed(1)} ms/image, ${
    (1000 * batch / ms).toFixed(1)
  } images/s`,
);
net.destroy();
gpu.destroy();

// More images than dimensions, so that the covariance has full rank as in a real evaluation.
const d = Number(values.dim), n = Math.ceil((d * 1.25) / 64) * 64;
const x = Float64Array.from({ length: n * d }, () => Math.random());
const stats = new FeatureStats(d);
let t0 = performance.now();
for (let i = 0; i < n; i += 64) stats.add(x.subarray(i * d, (i + 64) * d), 64);
console.log(
  `statistics: ${(n / ((performance.now() - t0) / 1000)).toFixed(0)} images/s at d=${d} (float64, one core)`,
);
// The feature pass's workers (metrics/gram_pool.ts): as many as it would start here, at least 2 to show them.
const workers = Math.max(2, helperThreads()), pool = new GramPool(workers), pooled = new FeatureStats(d);
await pooled.addOn(pool, x.subarray(0, 64 * d), 64);
t0 = performance.now();
for (let i = 64; i < n; i += 64) await pooled.addOn(pool, x.subarray(i * d, (i + 64) * d), 64);
pool.close();
console.log(
  `statistics: ${((n - 64) / ((performance.now() - t0) / 1000)).toFixed(0)} images/s with ${workers} workers`,
);
const s = stats.stats("biased");
t0 = performance.now();
frechetDistance(s, { ...s, mu: s.mu.map((v) => v + 0.01) });
console.log(`frechet distance d=${d}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

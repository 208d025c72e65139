/**
 * `deno task bench`: timings on the current adapter, printed as a table. Speed is shown here, never by
 * a timed test. Each case warms up (pipeline compilation), then reports the median of several runs.
 */
import { Gpu } from "../gpu/device.ts";
import { matmul } from "../kernels/matmul.ts";
import { readBytes } from "../gpu/readback.ts";

/** Median wall time in ms of `fn` (which must wait for its GPU work) over `reps` runs after one warm-up. */
export async function timeIt(fn: () => Promise<void>, reps = 5): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const gpu = await Gpu.open();
console.log(`adapter: ${gpu.summary.description}  date: ${new Date().toISOString().slice(0, 10)}`);
const n = gpu.summary.isFallback ? 256 : 2048;
const a = gpu.tensor([n, n]), b = gpu.tensor([n, n]);
const ms = await timeIt(async () => {
  const c = matmul(gpu, a, b);
  await readBytes(gpu, c.buffer, 0, 4);
  c.destroy();
});
console.log(`matmul ${n}x${n}x${n}: ${ms.toFixed(2)} ms (${((2 * n ** 3) / ms / 1e6).toFixed(1)} GFLOP/s)`);
gpu.destroy();

/**
 * The adapter's multiply-add peak, measured: every invocation runs ITERS rounds of 8 independent vec4
 * fused multiply-adds on registers (no memory traffic), over enough workgroups to fill the device; GFLOP/s
 * = 2 * 4 * 8 * ITERS * invocations / GPU time (timestamp queries, else wall time). Kernel profiles in
 * `deno task bench` report their GFLOP/s as a share of it.
 */
import type { Gpu } from "../gpu/device.ts";
import { runProgram } from "../gpu/program.ts";
import { OpProfiler } from "../gpu/profile.ts";

const ITERS = 2048, WG = 64, ACC = 8;

const SOURCE = /* wgsl */ `
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let s = vec4f(f32(gid.x) * 1e-7);
  let m = vec4f(0.999);
  ${Array.from({ length: ACC }, (_, i) => `var a${i} = s + vec4f(${i}.0);`).join(" ")}
  for (var i = 0u; i < p.iters; i++) {
    ${Array.from({ length: ACC }, (_, i) => `a${i} = fma(a${i}, m, s);`).join(" ")}
  }
  out[gid.x] = ${Array.from({ length: ACC }, (_, i) => `a${i}.x`).join(" + ")};
}`;

/** GFLOP/s of the FMA loop on `gpu` (the best of three runs). */
export async function fmaPeak(gpu: Gpu, workgroups = 1024): Promise<number> {
  const out = gpu.tensor([workgroups * WG]);
  const flops = 2 * 4 * ACC * ITERS * workgroups * WG;
  const launch = () =>
    runProgram(gpu, {
      name: "fma_peak",
      params: { iters: ["u32", ITERS] },
      buffers: [{ name: "out", data: out, access: "read_write" }],
      workgroupSize: WG,
      source: SOURCE,
      workgroups: [workgroups],
      flops,
    });
  launch();
  await gpu.sync();
  let best = 0;
  for (let rep = 0; rep < 3; rep++) {
    const profiler = gpu.profilable ? new OpProfiler(gpu.device) : null;
    gpu.submission.profiler = profiler;
    const t0 = performance.now();
    launch();
    await gpu.sync();
    const wall = performance.now() - t0;
    gpu.submission.profiler = null;
    await profiler?.drain();
    const ms = profiler?.totals.get("fma_peak")?.ms ?? wall;
    best = Math.max(best, flops / (ms * 1e6));
  }
  out.destroy();
  return best;
}

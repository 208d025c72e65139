/**
 * Elementwise arithmetic on tensors of any size: out = alpha * a + beta * b. It is the smallest kernel
 * that exercises binding tensors larger than maxStorageBufferBindingSize piecewise.
 */
import type { Gpu } from "../gpu/device.ts";
import { splitRuns, type Tensor } from "../gpu/tensor.ts";
import { grid1d, main1d } from "./grid.ts";
import { Uniforms } from "../gpu/uniforms.ts";

const WG = 256;

const AXPBY = /* wgsl */ `
struct P { n: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${main1d(WG, "i", "p.n")}
  out[i] = p.alpha * a[i] + p.beta * b[i];
}`;

/** out = alpha * a + beta * b, for f32 tensors of equal size; returns a new tensor shaped like a. */
export function axpby(gpu: Gpu, alpha: number, a: Tensor, beta: number, b: Tensor): Tensor {
  if (a.size !== b.size || a.dtype !== "f32" || b.dtype !== "f32") {
    throw new Error("axpby: f32 tensors of one size");
  }
  const out = gpu.tensor(a.shape);
  for (const [first, count] of splitRuns(a.size, 4, gpu.maxBinding, gpu.bindingAlign)) {
    const range = (t: Tensor) => ({ buffer: t.buffer, offset: first * 4, size: count * 4 });
    gpu.dispatch({
      code: AXPBY,
      uniforms: new Uniforms().u32(count).f32(alpha).f32(beta).bytes(),
      bindings: [range(a), range(b), range(out)],
      workgroups: grid1d(count, WG, gpu.maxWorkgroups),
    });
  }
  return out;
}

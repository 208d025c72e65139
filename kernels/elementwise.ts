/**
 * Elementwise arithmetic on tensors of any size: out = alpha * a + beta * b, and conversion between element
 * types. They are the smallest kernels that exercise binding tensors larger than maxStorageBufferBindingSize
 * piecewise (split buffers).
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";

const WG = 256;

const AXPBY = /* wgsl */ `
${main1d("i", "p.count")}
  st_out(i, p.alpha * ld_a(i) + p.beta * ld_b(i));
}`;

/** out = alpha * a + beta * b, for f32 tensors of equal size; returns a new tensor shaped like a. */
export function axpby(gpu: Gpu, alpha: number, a: Tensor, beta: number, b: Tensor): Tensor {
  if (a.size !== b.size || a.dtype !== "f32" || b.dtype !== "f32") {
    throw new Error("axpby: f32 tensors of one size");
  }
  const out = gpu.tensor(a.shape);
  runProgram(gpu, {
    name: "axpby",
    items: a.size,
    params: { alpha: ["f32", alpha], beta: ["f32", beta] },
    buffers: [
      { name: "a", data: a, split: true },
      { name: "b", data: b, split: true },
      { name: "out", data: out, access: "read_write", split: true },
    ],
    workgroupSize: WG,
    source: AXPBY,
    workgroups: (count) => grid1d(count, WG, gpu.maxWorkgroups),
  });
  return out;
}

const CAST = /* wgsl */ `
${main1d("i", "p.count")}
  st_out(i, ld_a(i));
}`;

/**
 * a converted to `dtype` (f32 to f16 rounds each value to a neighbouring f16, as WGSL's conversion does); returns
 * a new tensor shaped like a.
 */
export function cast(gpu: Gpu, a: Tensor, dtype: DType): Tensor {
  const out = gpu.tensor(a.shape, dtype);
  runProgram(gpu, {
    name: `cast_${a.dtype}_${dtype}`,
    items: a.size,
    buffers: [
      { name: "a", data: a, split: true },
      { name: "out", data: out, access: "read_write", split: true },
    ],
    workgroupSize: WG,
    source: CAST,
    workgroups: (count) => grid1d(count, WG, gpu.maxWorkgroups),
  });
  return out;
}

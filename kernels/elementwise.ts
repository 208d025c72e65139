/**
 * Elementwise arithmetic on tensors of any size: out = alpha * a + beta * b. It is the smallest kernel
 * that exercises binding tensors larger than maxStorageBufferBindingSize piecewise (split buffers).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
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

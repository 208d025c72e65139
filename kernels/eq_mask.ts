/**
 * Rectangular validity masks for the equivariance metrics: mask[n, 0, y, x] = 1 inside sample n's
 * rectangle [x0, x1) x [y0, y1), else 0. The translation and pseudo-rotation operators of
 * metrics/equivariance.py all produce such masks (one per sample, the same for every channel).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";

const WG = 256;

/** A half-open pixel rectangle [x0, x1, y0, y1]; empty when x0 >= x1 or y0 >= y1. */
export type Rect = [number, number, number, number];

const RECT = /* wgsl */ `
// rects, per sample: x0, x1, y0, y1
${main1d("i", "p.n * p.h * p.w")}
  let x = f32(i % p.w);
  let y = f32((i / p.w) % p.h);
  let r = 4u * (i / (p.w * p.h));
  m[i] = select(0.0, 1.0, x >= rects[r] && x < rects[r + 1u] && y >= rects[r + 2u] && y < rects[r + 3u]);
}`;

/** Masks [N, 1, H, W] of the given per-sample rectangles. */
export function rectMasks(gpu: Gpu, rects: readonly Rect[], h: number, w: number): Tensor {
  const n = rects.length;
  const m = gpu.tensor([n, 1, h, w]);
  runProgram(gpu, {
    name: "rect_masks",
    params: { n: ["u32", n], h: ["u32", h], w: ["u32", w] },
    buffers: [
      { name: "rects", data: gpu.upload(Float32Array.from(rects.flat()), [4 * n]) },
      { name: "m", data: m, access: "read_write" },
    ],
    workgroupSize: WG,
    source: RECT,
    workgroups: grid1d(n * h * w, WG, gpu.maxWorkgroups),
  });
  return m;
}

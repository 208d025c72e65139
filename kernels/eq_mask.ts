/**
 * Rectangular validity masks for the equivariance metrics: mask[n, 0, y, x] = 1 inside sample n's
 * rectangle [x0, x1) x [y0, y1), else 0. The translation and pseudo-rotation operators of
 * metrics/equivariance.py all produce such masks (one per sample, the same for every channel).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { Uniforms } from "../gpu/uniforms.ts";
import { grid1d, main1d } from "./grid.ts";

const WG = 256;

/** A half-open pixel rectangle [x0, x1, y0, y1]; empty when x0 >= x1 or y0 >= y1. */
export type Rect = [number, number, number, number];

const RECT = /* wgsl */ `
struct P { n: u32, h: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> rects: array<f32>; // per sample: x0, x1, y0, y1
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
${main1d(WG, "i", "p.n * p.h * p.w")}
  let x = f32(i % p.w);
  let y = f32((i / p.w) % p.h);
  let r = 4u * (i / (p.w * p.h));
  m[i] = select(0.0, 1.0, x >= rects[r] && x < rects[r + 1u] && y >= rects[r + 2u] && y < rects[r + 3u]);
}`;

/** Masks [N, 1, H, W] of the given per-sample rectangles. */
export function rectMasks(gpu: Gpu, rects: readonly Rect[], h: number, w: number): Tensor {
  const n = rects.length;
  const m = gpu.tensor([n, 1, h, w]);
  gpu.dispatch({
    code: RECT,
    uniforms: new Uniforms().u32(n).u32(h).u32(w).bytes(),
    bindings: [gpu.upload(Float32Array.from(rects.flat()), [4 * n]), m],
    workgroups: grid1d(n * h * w, WG, gpu.maxWorkgroups),
  });
  return m;
}

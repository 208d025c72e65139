/**
 * Integer translation of a batch of images (the operator T_x of the StyleGAN3 paper, Appendix E.1;
 * metrics/equivariance.py apply_integer_translation): z[y, x] = img[y - iy, x - ix] where that pixel
 * exists, else 0. The valid region comes from {@link integerTranslationMask}.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import type { Rect } from "./eq_mask.ts";

const WG = 256;

/** Rounds half to even, as torch.round and np.rint do. */
export function roundHalfEven(v: number): number {
  if (Math.abs(v % 1) !== 0.5) return Math.round(v);
  return 2 * Math.round(v / 2);
}

/**
 * The whole-pixel shift of a translation `t` given as a fraction of the image `size`: round(t * size)
 * with t * size in float32 and round half to even, exactly as apply_integer_translation computes it.
 */
export function integerShift(t: number, size: number): number {
  return roundHalfEven(Math.fround(Math.fround(t) * size));
}

/** The mask rectangle of an integer shift (ix, iy) on a W x H image: where the shifted image is defined. */
export function integerTranslationMask(ix: number, iy: number, w: number, h: number): Rect {
  if (Math.abs(ix) >= w || Math.abs(iy) >= h) return [0, 0, 0, 0];
  return [Math.max(ix, 0), w + Math.min(ix, 0), Math.max(iy, 0), h + Math.min(iy, 0)];
}

const SHIFT = /* wgsl */ `
// shifts, per sample: ix, iy
${main1d("i", "p.n * p.c * p.h * p.w")}
  let col = i32(i % p.w);
  let row = i32((i / p.w) % p.h);
  let n = i / (p.w * p.h * p.c);
  let sx = col - i32(shifts[2u * n]);
  let sy = row - i32(shifts[2u * n + 1u]);
  var v = 0.0;
  if (sx >= 0 && sx < i32(p.w) && sy >= 0 && sy < i32(p.h)) {
    v = x[u32(i32(i) - col + sx + (sy - row) * i32(p.w))];
  }
  z[i] = v;
}`;

/**
 * Shifts each image of x [N, C, H, W] by whole pixels, `shifts` = [ix_0, iy_0, ix_1, iy_1, ...]
 * (positive = right/down); pixels shifted in from outside are 0. Returns a new tensor.
 */
export function integerTranslate(gpu: Gpu, x: Tensor, shifts: ArrayLike<number>): Tensor {
  const [n, c, h, w] = x.shape;
  if (shifts.length !== 2 * n) throw new Error(`integerTranslate: ${shifts.length} shifts for ${n} images`);
  const z = gpu.tensor(x.shape);
  runProgram(gpu, {
    name: "integer_translate",
    params: { n: ["u32", n], c: ["u32", c], h: ["u32", h], w: ["u32", w] },
    buffers: [
      { name: "x", data: x },
      { name: "shifts", data: gpu.upload(Float32Array.from(shifts), [2 * n]) },
      { name: "z", data: z, access: "read_write" },
    ],
    workgroupSize: WG,
    source: SHIFT,
    workgroups: grid1d(n * c * h * w, WG, gpu.maxWorkgroups),
  });
  return z;
}

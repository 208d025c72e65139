/**
 * Fractional translation of a batch of images with a separable windowed-sinc (Lanczos, a = 3) filter (the
 * operator T_x of the StyleGAN3 paper, Appendix E.2; metrics/equivariance.py apply_fractional_translation).
 *
 * With the shift s = t * size split into i = floor(s) and f = s - i, each axis is filtered with the six taps
 * k = -2..3: h[k] = sinc(k - f) * sinc((k - f) / 3), normalised to sum 1, so that
 * z[x] = sum_k h[k] * img[x - i - k] (zero outside the image). The official code pads, filters with
 * upfirdn2d and crops; that crop keeps exactly these values. Horizontal pass first, then vertical, each
 * rounded to float32 like the official two filter2d calls.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import type { Rect } from "./eq_mask.ts";

const WG = 256;
/** Lanczos window radius a of the official metric. */
export const LANCZOS_A = 3;
const TAPS = 2 * LANCZOS_A;

/** sinc(x) = sin(pi x) / (pi x), 1 at 0. */
export function sinc(x: number): number {
  const y = Math.abs(x * Math.PI);
  return y < 1e-30 ? 1 : Math.sin(y) / y;
}

/** One axis of a fractional shift: the whole part i and the six normalised taps for k = -2..3. */
export interface FractionalAxis {
  /** The whole-pixel part floor(t * size) of the shift. */
  i: number;
  /** The six taps h[k] for k = -2..3 (index k + 2), summing to 1. */
  taps: Float64Array;
}

/**
 * The filter of one axis for a translation `t` (a fraction of `size`): s = t * size in float32 as the
 * official code computes it, i = floor(s), f = s - i.
 */
export function fractionalAxis(t: number, size: number): FractionalAxis {
  const s = Math.fround(Math.fround(t) * size);
  const i = Math.floor(s);
  const f = Math.fround(s - i);
  const taps = new Float64Array(TAPS);
  for (let k = 0; k < TAPS; k++) {
    const d = k - (LANCZOS_A - 1) - f;
    taps[k] = sinc(d) * sinc(d / LANCZOS_A);
  }
  const sum = taps.reduce((a, b) => a + b, 0);
  return { i, taps: taps.map((v) => v / sum) };
}

/** The valid rectangle of a fractional translation: pixels whose whole filter footprint lies inside. */
export function fractionalTranslationMask(x: FractionalAxis, y: FractionalAxis, w: number, h: number): Rect {
  const b = LANCZOS_A - 1;
  return [
    Math.max(x.i + LANCZOS_A, 0),
    Math.min(x.i - b, 0) + w,
    Math.max(y.i + LANCZOS_A, 0),
    Math.min(y.i - b, 0) + h,
  ];
}

function pass(vertical: boolean): string {
  // Stride between neighbours along the filtered axis, and the coordinate along it.
  const stride = vertical ? "p.w" : "1u";
  const coord = vertical ? "(i / p.w) % p.h" : "i % p.w";
  const len = vertical ? "p.h" : "p.w";
  const off = vertical ? 1 : 0;
  return /* wgsl */ `
const TAPS = ${TAPS}u;
// params, per sample: ix, iy, 6 taps along x, 6 taps along y.
${main1d("i", "p.n * p.c * p.h * p.w")}
  let q = 14u * (i / (p.w * p.h * p.c));
  let pos = i32(${coord});
  let base = i32(i) - pos * i32(${stride});
  let src0 = pos - i32(params[q + ${off}u]) + ${LANCZOS_A - 1};
  var acc = 0.0;
  for (var k = 0u; k < TAPS; k++) {
    let s = src0 - i32(k);
    if (s >= 0 && s < i32(${len})) {
      acc += params[q + 2u + ${off * TAPS}u + k] * x[u32(base + s * i32(${stride}))];
    }
  }
  z[i] = acc;
}`;
}

/**
 * Translates each image of x [N, C, H, W] by its own fractional shift (`axes[n]` = [x axis, y axis], see
 * {@link fractionalAxis}). Returns a new tensor; pixels near the border are partial sums (masked out).
 */
export function fractionalTranslate(
  gpu: Gpu,
  x: Tensor,
  axes: readonly (readonly [FractionalAxis, FractionalAxis])[],
): Tensor {
  const [n, c, h, w] = x.shape;
  if (axes.length !== n) throw new Error(`fractionalTranslate: ${axes.length} shifts for ${n} images`);
  const params = new Float32Array(14 * n);
  axes.forEach(([ax, ay], s) => {
    params.set([ax.i, ay.i], 14 * s);
    params.set(ax.taps, 14 * s + 2);
    params.set(ay.taps, 14 * s + 2 + TAPS);
  });
  const p = gpu.upload(params, [params.length]);
  const launch = (vertical: boolean, src: Tensor, dst: Tensor) =>
    runProgram(gpu, {
      name: vertical ? "fractional_translate_y" : "fractional_translate_x",
      params: { n: ["u32", n], c: ["u32", c], h: ["u32", h], w: ["u32", w] },
      buffers: [
        { name: "x", data: src },
        { name: "params", data: p },
        { name: "z", data: dst, access: "read_write" },
      ],
      workgroupSize: WG,
      source: pass(vertical),
      workgroups: grid1d(n * c * h * w, WG, gpu.maxWorkgroups),
    });
  const tmp = gpu.tensor(x.shape);
  launch(false, x, tmp);
  const z = gpu.tensor(x.shape);
  launch(true, tmp, z);
  return z;
}

/**
 * Rotation operators of the EQ-R metric (the StyleGAN3 paper, Appendix E.3; metrics/equivariance.py):
 *
 * - {@link fractionalRotation} (R_alpha, apply_fractional_rotation): upsample 4x with the oriented band-limit
 *   filter (upfirdn2d up=4, gain 16, padding p = 23 on each side), resample with a bilinear grid_sample
 *   (zero padding, align_corners=False) on the rotated grid, and sample a mask (1 inside the upsampled image
 *   minus a 2p + 1 border) with nearest-neighbour grid_sample. The upsampled image is never stored: each
 *   bilinear corner is computed with the upfirdn2d sum at that pixel.
 * - {@link pseudoRotation} (R*_alpha, apply_fractional_pseudo_rotation): only the band limit of a rotation,
 *   filter2d with the up=1 filter of rotation_matrix(-angle); mask = all but a 5-pixel border.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import { bandlimitFilter, type Filter2d } from "./eq_bandlimit.ts";
import { rectMasks } from "./eq_mask.ts";
import { samePadding, upfirdn2d, UPFIRDN_AT } from "./eq_upfirdn.ts";
import { LANCZOS_A } from "./eq_fractional.ts";

const WG = 256;
const UP = 4;

/** rotation_matrix(angle) of the official code, in float32: [[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]]. */
export function rotationMatrix(angle: number): Float32Array {
  const a = Math.fround(angle);
  const c = Math.cos(a), s = Math.sin(a);
  return Float32Array.of(c, s, 0, -s, c, 0, 0, 0, 1);
}

/** The 4x-upsampling filter of apply_fractional_rotation(x, angle): a = 3, amax = 6. */
export function rotationFilter(angle: number): Filter2d {
  return bandlimitFilter(rotationMatrix(angle), { a: LANCZOS_A, amax: 2 * LANCZOS_A, up: UP });
}

/** The filter of apply_fractional_pseudo_rotation(x, angle): that of rotation_matrix(-angle) at up = 1. */
export function pseudoRotationFilter(angle: number): Filter2d {
  return bandlimitFilter(rotationMatrix(-angle), { a: LANCZOS_A, amax: 2 * LANCZOS_A, up: 1 });
}

/**
 * The affine_grid matrix theta (2x3, row-major) of apply_affine_transformation for `mat` on a W x H image with
 * filter half-size p: inverse(mat), translation doubled, shifted by half an upsampled pixel, and scaled to
 * the padded upsampled image; float32 like the official code.
 */
export function affineTheta(mat: ArrayLike<number>, w: number, h: number, p: number): Float32Array {
  const f = Math.fround;
  const [a, b, c, d, e, g, i, j, k] = Array.from(mat);
  const det = a * (e * k - g * j) - b * (d * k - g * i) + c * (d * j - e * i);
  const inv = [
    (e * k - g * j) / det,
    (c * j - b * k) / det,
    (b * g - c * e) / det,
    (g * i - d * k) / det,
    (a * k - c * i) / det,
    (c * d - a * g) / det,
  ].map(f);
  inv[2] = f(f(inv[2] * 2) + f(1 / UP / w));
  inv[5] = f(f(inv[5] * 2) + f(1 / UP / h));
  const sx = f(w / (w + (p / UP) * 2)), sy = f(h / (h + (p / UP) * 2));
  return Float32Array.of(inv[0] * sx, inv[1] * sx, inv[2] * sx, inv[3] * sy, inv[4] * sy, inv[5] * sy);
}

const ROTATE = /* wgsl */ `
// filt: [N, k, k], theta: [N, 6], mask: [N, 1, H, W].
fn x_at(i: u32) -> f32 { return x[i]; }
${UPFIRDN_AT}
// affine_grid's coordinates as PyTorch rounds them: linspace(-1, 1, size) (from both ends towards the
// middle) times (size - 1), divided by size.
fn base_grid(i: u32, size: u32) -> f32 {
  let step = 2.0 / f32(size - 1u);
  let v = select(1.0 - step * f32(size - 1u - i), -1.0 + step * f32(i), i < size / 2u);
  return v * f32(size - 1u) / f32(size);
}
fn upsampled(u: Up, xo: u32, fo: u32, yy: i32, xx: i32) -> f32 {
  if (xx < 0 || yy < 0 || xx >= p.uw || yy >= p.uh) { return 0.0; }
  return upfirdn_at(u, xo, fo, yy, xx);
}
${main1d("i", "p.n * p.c * p.h * p.w")}
  let col = i % p.w;
  let row = (i / p.w) % p.h;
  let plane = i / (p.w * p.h);
  let s = plane / p.c;
  // affine_grid (align_corners=False): pixel centres in [-1, 1], mapped by theta.
  let xn = base_grid(col, p.w);
  let yn = base_grid(row, p.h);
  let t = 6u * s;
  let gx = xn * theta[t] + yn * theta[t + 1u] + theta[t + 2u];
  let gy = xn * theta[t + 3u] + yn * theta[t + 4u] + theta[t + 5u];
  // grid_sample's unnormalisation (align_corners=False) onto the upsampled image.
  let ix = ((gx + 1.0) * f32(p.uw) - 1.0) / 2.0;
  let iy = ((gy + 1.0) * f32(p.uh) - 1.0) / 2.0;
  let x0 = floor(ix);
  let y0 = floor(iy);
  let ax = ix - x0;
  let ay = iy - y0;
  let u = Up(${UP}, p.pad0, p.pad0, p.k, p.k, i32(p.w), i32(p.h), ${UP * UP}.0);
  let xo = plane * p.w * p.h;
  let fo = s * u32(p.k * p.k);
  let cx = i32(x0);
  let cy = i32(y0);
  z[i] = upsampled(u, xo, fo, cy, cx) * (1.0 - ax) * (1.0 - ay)
       + upsampled(u, xo, fo, cy, cx + 1) * ax * (1.0 - ay)
       + upsampled(u, xo, fo, cy + 1, cx) * (1.0 - ax) * ay
       + upsampled(u, xo, fo, cy + 1, cx + 1) * ax * ay;
  if (plane % p.c == 0u) {
    // Nearest (round half to even) sample of the mask that is 1 on [border, size - border).
    let nx = i32(round(ix));
    let ny = i32(round(iy));
    let inside = nx >= p.border && nx < p.uw - p.border && ny >= p.border && ny < p.uh - p.border;
    mask[s * p.w * p.h + row * p.w + col] = select(0.0, 1.0, inside);
  }
}`;

/** The filter of each angle, designed once per distinct angle (the metric draws one angle per 4 samples). */
function designOnce(angles: readonly number[], design: (angle: number) => Filter2d): Filter2d[] {
  const memo = new Map<number, Filter2d>();
  return angles.map((a) => memo.get(a) ?? memo.set(a, design(a)).get(a)!);
}

/** An operator's output: transformed images [N, C, H, W] and validity masks [N, 1, H, W]. */
export interface Masked {
  /** The transformed images [N, C, H, W]. */
  img: Tensor;
  /** The validity masks [N, 1, H, W]: 1 where the pixel counts in the error, else 0. */
  mask: Tensor;
}

/** apply_fractional_rotation of each image of x [N, C, H, W] by its own angle (radians). */
export function fractionalRotation(gpu: Gpu, x: Tensor, angles: readonly number[]): Masked {
  const [n, c, h, w] = x.shape;
  if (angles.length !== n) throw new Error(`fractionalRotation: ${angles.length} angles for ${n} images`);
  const filters = designOnce(angles, rotationFilter);
  const k = filters[0].size;
  const p = (k - 1) / 2;
  const taps = new Float32Array(n * k * k);
  const theta = new Float32Array(6 * n);
  angles.forEach((angle, s) => {
    taps.set(filters[s].taps, s * k * k);
    theta.set(affineTheta(rotationMatrix(angle), w, h, p), 6 * s);
  });
  const img = gpu.tensor(x.shape);
  const mask = gpu.tensor([n, 1, h, w]);
  runProgram(gpu, {
    name: "fractional_rotation",
    params: {
      n: ["u32", n],
      c: ["u32", c],
      h: ["u32", h],
      w: ["u32", w],
      uh: ["i32", h * UP + 2 * p],
      uw: ["i32", w * UP + 2 * p],
      border: ["i32", 2 * p + 1],
      k: ["i32", k],
      pad0: ["i32", p + Math.floor((k + UP - 1) / 2)],
    },
    buffers: [
      { name: "x", data: x },
      { name: "filt", data: gpu.upload(taps, [n, k, k]) },
      { name: "theta", data: gpu.upload(theta, [n, 6]) },
      { name: "z", data: img, access: "read_write" },
      { name: "mask", data: mask, access: "read_write" },
    ],
    workgroupSize: WG,
    source: ROTATE,
    workgroups: grid1d(n * c * h * w, WG, gpu.maxWorkgroups),
  });
  return { img, mask };
}

/** apply_fractional_pseudo_rotation of each image of x [N, C, H, W] by its own angle (radians). */
export function pseudoRotation(gpu: Gpu, x: Tensor, angles: readonly number[]): Masked {
  const [n, , h, w] = x.shape;
  if (angles.length !== n) throw new Error(`pseudoRotation: ${angles.length} angles for ${n} images`);
  const filters = designOnce(angles, pseudoRotationFilter);
  const k = filters[0].size;
  const taps = new Float32Array(n * k * k);
  filters.forEach((f, s) => taps.set(f.taps, s * k * k));
  const img = upfirdn2d(gpu, x, gpu.upload(taps, [n, k, k]), { padding: samePadding(k) });
  const b = Math.floor(k / 2);
  const mask = rectMasks(gpu, angles.map(() => [b, w - b, b, h - b]), h, w);
  return { img, mask };
}

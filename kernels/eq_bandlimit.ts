/**
 * The oriented low-pass filter of the rotation metric (metrics/equivariance.py
 * construct_affine_bandlimit_filter): the band limit both before and after an affine map `mat`, as a 2-D
 * FIR filter for `up`-times upsampling. Designed on the host in float64 and cast once to float32.
 *
 * On the grid of taps q / up (q a signed integer, |q| < aflt * up, wrapping circularly with period
 * N = 2 aflt up - 1 as the official FFTs do), with input coordinates (xi, yi) and output coordinates
 * (xo, yo) = mat[:2, :2] (xi, yi):
 *   f = (sinc(xi) sinc(yi)) (*) (sinc(xo) sinc(yo))        (circular 2-D convolution)
 *   w = (L(xi) L(yi)) (*) (L(xo) L(yo)),  L = Lanczos window of radius a
 * The filter is f * w on the central (2 amax up - 1)^2 taps, each of the up x up polyphase components
 * normalised to sum 1 / up^2. The official code convolves with FFTs; here the input sinc is separable, so
 * the convolution is two 1-D passes over the needed outputs, and the Lanczos windows have small support.
 */
import { sinc } from "./eq_fractional.ts";

/** Design parameters (the official defaults: aflt 64, cutoffs 1). */
export interface BandlimitOptions {
  /** Radius of the Lanczos windows, in input pixels (default 3). */
  a?: number;
  /** Half-width of the kept filter, in input pixels: it has 2 amax up - 1 taps per side (default 16). */
  amax?: number;
  /** Half-width of the circular design grid, in input pixels (default 64); needs a <= amax < aflt. */
  aflt?: number;
  /** Upsampling factor the filter is designed for: taps are 1 / up pixels apart (default 4). */
  up?: number;
  /** Input band limit as a multiple of the Nyquist frequency: sinc(xi * cutoffIn) (default 1). */
  cutoffIn?: number;
  /** Output band limit, after the map, in the same unit: sinc(xo * cutoffOut) (default 1). */
  cutoffOut?: number;
}

/** A square filter of odd size `size`, row-major float32 taps. */
export interface Filter2d {
  /** Taps per side (odd). */
  size: number;
  /** size * size taps, row-major. */
  taps: Float32Array;
}

function lanczos(x: number, a: number): number {
  const r = Math.abs(x) / a;
  return r < 1 ? sinc(r) : 0;
}

/**
 * construct_affine_bandlimit_filter(mat, a, amax, aflt, up, cutoff_in, cutoff_out); `mat` is a row-major
 * 3x3 (or 2x2 in its top-left) matrix whose entries are used as given (float32 in the official code).
 */
export function bandlimitFilter(mat: ArrayLike<number>, opts: BandlimitOptions = {}): Filter2d {
  const { a = 3, amax = 16, aflt = 64, up = 4, cutoffIn = 1, cutoffOut = 1 } = opts;
  if (!(a <= amax && amax < aflt)) throw new Error("bandlimitFilter: need a <= amax < aflt");
  const stride = mat.length === 4 ? 2 : 3;
  const [m00, m01, m10, m11] = [mat[0], mat[1], mat[stride], mat[stride + 1]];
  const n = 2 * aflt * up - 1;
  const half = aflt * up - 1; // signed tap indices -half..half
  const r = amax * up - 1; // kept outputs -r..r
  const k = 2 * r + 1;
  const wrap = (q: number) => ((q + half) % n + n) % n - half;

  // fo on the whole circular grid, indexed [qy + half][qx + half].
  const fo = new Float64Array(n * n);
  for (let qy = -half; qy <= half; qy++) {
    for (let qx = -half; qx <= half; qx++) {
      const xi = qx / up, yi = qy / up;
      const xo = xi * m00 + yi * m01, yo = xi * m10 + yi * m11;
      fo[(qy + half) * n + qx + half] = sinc(xo * cutoffOut) * sinc(yo * cutoffOut);
    }
  }
  const si = new Float64Array(n);
  for (let q = -half; q <= half; q++) si[q + half] = sinc((q / up) * cutoffIn);

  // f = fi (*) fo with fi separable: g[px][ry] = sum_qx si[qx] fo[ry][px - qx], then
  // f[py][px] = sum_qy si[qy] g[px][py - qy]. `ext` unrolls the circular wrap of one row or column.
  const ext = new Float64Array(n + 2 * r);
  const convolve = (get: (d: number) => number, out: Float64Array, at: number, step: number) => {
    for (let t = 0; t < ext.length; t++) ext[t] = get(wrap(t - half - r));
    for (let p = -r; p <= r; p++) {
      let s = 0;
      for (let q = -half; q <= half; q++) s += si[q + half] * ext[p - q + half + r];
      out[at + (p + r) * step] = s;
    }
  };
  const g = new Float64Array(k * n);
  for (let ry = 0; ry < n; ry++) convolve((d) => fo[ry * n + d + half], g, ry, n);
  const f = new Float64Array(k * k);
  for (let px = 0; px < k; px++) convolve((d) => g[px * n + d + half], f, px, k);

  // w = wi (*) wo; wi is nonzero only for |q| < a * up, so no wrap-around reaches the kept outputs.
  const wr = a * up - 1;
  const span = r + wr; // |output - input offset| <= span
  const ws = 2 * span + 1;
  const wo = new Float64Array(ws * ws);
  for (let dy = -span; dy <= span; dy++) {
    for (let dx = -span; dx <= span; dx++) {
      const xi = dx / up, yi = dy / up;
      const xo = xi * m00 + yi * m01, yo = xi * m10 + yi * m11;
      wo[(dy + span) * ws + dx + span] = lanczos(xo, a) * lanczos(yo, a);
    }
  }
  const wi = new Float64Array(2 * wr + 1);
  for (let q = -wr; q <= wr; q++) wi[q + wr] = lanczos(q / up, a);
  const taps = new Float64Array(k * k);
  for (let py = -r; py <= r; py++) {
    for (let px = -r; px <= r; px++) {
      let s = 0;
      for (let qy = -wr; qy <= wr; qy++) {
        for (let qx = -wr; qx <= wr; qx++) {
          s += wi[qy + wr] * wi[qx + wr] * wo[(py - qy + span) * ws + px - qx + span];
        }
      }
      taps[(py + r) * k + px + r] = f[(py + r) * k + px + r] * s;
    }
  }

  // Normalise each polyphase component: taps at index i (0..k-1) belong to phase i % up.
  const sums = new Float64Array(up * up);
  for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) sums[(y % up) * up + (x % up)] += taps[y * k + x];
  const out = new Float32Array(k * k);
  for (let y = 0; y < k; y++) {
    for (let x = 0; x < k; x++) out[y * k + x] = taps[y * k + x] / sums[(y % up) * up + (x % up)] / (up * up);
  }
  return { size: k, taps: out };
}

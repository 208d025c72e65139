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
import { range } from "./unroll.ts";

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
 * sinc(x) sinc(y) on the circular grid (qx, qy) in [-half, half]^2, row-major [qy + half][qx + half], for
 * x = (qx m00 + qy m01) c / up and y = (qx m10 + qy m11) c / up. Each sine comes from the angle-sum identity
 * sin(u + v) = sin u cos v + cos u sin v over per-row and per-column tables (4n sines and cosines instead of
 * 2n^2); near its zero crossing through the origin (|pi x| < 1), where that sum would cancel, it is taken
 * directly, as {@link sinc} does everywhere. The two ways differ by ~1e-14 absolute.
 */
function sincGrid(m00: number, m01: number, m10: number, m11: number, c: number, up: number, half: number) {
  const n = 2 * half + 1, alpha = (Math.PI * c) / up;
  const table = (m: number, f: (v: number) => number) =>
    Float64Array.from({ length: n }, (_, i) => f(alpha * (i - half) * m));
  const [sx0, cx0, sy0, cy0] = [
    table(m00, Math.sin),
    table(m00, Math.cos),
    table(m01, Math.sin),
    table(m01, Math.cos),
  ];
  const [sx1, cx1, sy1, cy1] = [
    table(m10, Math.sin),
    table(m10, Math.cos),
    table(m11, Math.sin),
    table(m11, Math.cos),
  ];
  const out = new Float64Array(n * n);
  const one = (u: number, s: number) => {
    const y = Math.abs(u);
    return y < 1e-30 ? 1 : (y < 1 ? Math.sin(u) : s) / u;
  };
  for (let i = 0; i < n; i++) {
    const qy = i - half;
    for (let j = 0; j < n; j++) {
      const qx = j - half;
      const u = alpha * (qx * m00 + qy * m01), v = alpha * (qx * m10 + qy * m11);
      out[i * n + j] = one(u, sx0[j] * cy0[i] + cx0[j] * sy0[i]) * one(v, sx1[j] * cy1[i] + cx1[j] * sy1[i]);
    }
  }
  return out;
}

/**
 * The circular correlation of each row `line(i)` (n values, n odd, index d + half for offset d) with an even
 * kernel `h` (n values, index q + half), at the offsets p in [-r, r]: sum_q h[q] line[wrap(p - q)], written to
 * `set(i, p)`. The kernel's symmetry halves the multiplies.
 */
function evenCorrelate(
  h: Float64Array,
  rows: Iterable<number>,
  line: (i: number, d: number) => number,
  r: number,
  set: (i: number, p: number, v: number) => void,
): void {
  const n = h.length, half = (n - 1) / 2;
  const wrap = (q: number) => ((q + half) % n + n) % n - half;
  const ext = new Float64Array(n + 2 * r); // the row unrolled: offset d at ext[d + half + r]
  for (const i of rows) {
    for (let t = 0; t < ext.length; t++) ext[t] = line(i, wrap(t - half - r));
    for (let p = -r; p <= r; p++) {
      const c = p + half + r;
      let s = h[half] * ext[c];
      for (let q = 1; q <= half; q++) s += h[q + half] * (ext[c - q] + ext[c + q]);
      set(i, p, s);
    }
  }
}

/**
 * construct_affine_bandlimit_filter(mat, a, amax, aflt, up, cutoff_in, cutoff_out); `mat` is a row-major
 * 3x3 (or 2x2 in its top-left) matrix whose entries are used as given (float32 in the official code). Both
 * sinc products are even, so the first pass's result is point-symmetric (g(-p, -q) = g(p, q)): it computes half
 * its rows and mirrors the rest; the window's convolution is separable too. An EQ-R
 * filter (4x, 47 x 47 taps from a 511 x 511 grid) takes 12 ms on one core of a 2-core AMD EPYC (the direct
 * design before took 50, 2026-12-03), with the same float32 taps over 80 random and 6 special angles: the
 * metric designs one per sample on the host, which a GPU's pass of a few milliseconds per sample would wait for.
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

  // f = fi (*) fo with fi separable: g[px][qy] = sum_qx si[qx] fo[qy][px - qx] (rows qy >= 0; g(-px, -qy) =
  // g(px, qy)), then f[py][px] = sum_qy si[qy] g[px][py - qy].
  const fo = sincGrid(m00, m01, m10, m11, cutoffOut, up, half);
  const si = Float64Array.from({ length: n }, (_, i) => sinc(((i - half) / up) * cutoffIn));
  const g = new Float64Array(k * n);
  evenCorrelate(si, range(half + 1), (qy, d) => fo[(qy + half) * n + d + half], r, (qy, px, v) => {
    g[(px + r) * n + qy + half] = v;
    g[(r - px) * n + half - qy] = v;
  });
  const f = new Float64Array(k * k);
  evenCorrelate(si, range(k).map((i) => i - r), (px, d) => g[(px + r) * n + d + half], r, (px, py, v) => {
    f[(py + r) * k + px + r] = v;
  });

  // w = wi (*) wo; wi is nonzero only for |q| < a * up, so no wrap-around reaches the kept outputs. wi is
  // separable: along x into h[dy][px], then along y.
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
  const h = new Float64Array(ws * k);
  for (let dy = -span; dy <= span; dy++) {
    for (let px = -r; px <= r; px++) {
      let s = 0;
      for (let qx = -wr; qx <= wr; qx++) s += wi[qx + wr] * wo[(dy + span) * ws + px - qx + span];
      h[(dy + span) * k + px + r] = s;
    }
  }
  const taps = new Float64Array(k * k);
  for (let py = -r; py <= r; py++) {
    for (let px = -r; px <= r; px++) {
      let s = 0;
      for (let qy = -wr; qy <= wr; qy++) s += wi[qy + wr] * h[(py - qy + span) * k + px + r];
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

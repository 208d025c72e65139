import assert from "node:assert/strict";
import { winograd1d, winogradKernel, winogradScheme, winogradWeights } from "../kernels/winograd.ts";
import { randomF32 } from "./reference.ts";

/** y = A^T ((G g) . (B^T d)) of a one-dimensional algorithm, in float64. */
function apply(f: ReturnType<typeof winograd1d>, g: ArrayLike<number>, d: ArrayLike<number>): number[] {
  const dot = (row: number[], v: ArrayLike<number>) => row.reduce((s, c, k) => s + c * v[k], 0);
  const m = f.g.map((row, j) => dot(row, g) * dot(f.bt[j], d));
  return f.at.map((row) => dot(row, m));
}

Deno.test("winograd1d: F(m, r) computes the r-tap correlation of m + r - 1 inputs", () => {
  let seed = 1;
  for (const [m, r] of [[1, 1], [2, 3], [2, 7], [4, 3]]) {
    const f = winograd1d(m, r);
    assert.equal(f.bt.length, m + r - 1);
    for (let trial = 0; trial < 5; trial++) {
      const g = randomF32(r, seed++), d = randomF32(m + r - 1, seed++);
      const y = apply(f, g, d);
      for (let i = 0; i < m; i++) {
        let ref = 0;
        for (let k = 0; k < r; k++) ref += g[k] * d[i + k];
        assert.ok(Math.abs(y[i] - ref) < 1e-12, `F(${m}, ${r}) output ${i}: ${y[i]} vs ${ref}`);
      }
    }
  }
});

Deno.test("winograd1d: F(2, 3) is the classic algorithm (B^T rows scaled to integers, G holding the halves)", () => {
  const f = winograd1d(2, 3);
  assert.deepEqual(f.bt, [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]]);
  assert.deepEqual(f.g, [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]);
  assert.deepEqual(f.at, [[1, 1, 1, 0], [0, 1, -1, 1]]);
});

Deno.test("winogradScheme: which kernels have one, and their points", () => {
  // F(2x3, 3x3): 4 x 5 points for 2 x 3 outputs; F(1x2, 1x7) and F(2x1, 7x1); F(1x4, 1x3) and F(4x1, 3x1).
  const tiles = [[3, 3, 2, 3, 20], [1, 7, 1, 2, 8], [7, 1, 2, 1, 8], [1, 3, 1, 4, 6], [3, 1, 4, 1, 6]];
  for (const [kh, kw, my, mx, points] of tiles) {
    const k = winogradScheme(kh, kw)!;
    assert.deepEqual([k.y.m, k.x.m, k.points], [my, mx, points], `${kh}x${kw}`);
  }
  for (const [kh, kw] of [[1, 1], [5, 5], [3, 5], [2, 2]]) assert.equal(winogradScheme(kh, kw), null);
});

Deno.test("winogradKernel: a 1x7 kernel's transform is G g (one row of the separable Gy g Gx^T)", () => {
  const g = randomF32(7, 9);
  const { x } = winogradScheme(1, 7)!;
  assert.deepEqual(
    Array.from(winogradKernel(g, 1, 7)),
    x.g.map((row) => row.reduce((s, c, k) => s + c * g[k], 0)),
  );
});

Deno.test("winogradWeights packs every kernel's winogradKernel as W'[ab, c, o], rounded, zero-padded", () => {
  for (const [cout, cin, kh, kw] of [[5, 3, 3, 3], [33, 2, 1, 7], [3, 4, 7, 1], [2, 5, 3, 1]]) {
    const taps = kh * kw, cpad = Math.ceil(cout / 32) * 32, np = winogradScheme(kh, kw)!.points;
    const w = randomF32(cout * cin * taps, cout + cin);
    const packed = winogradWeights(w, [cout, cin, kh, kw], cpad);
    assert.equal(packed.length, np * cin * cpad);
    for (let o = 0; o < cpad; o++) {
      for (let c = 0; c < cin; c++) {
        const t = o < cout
          ? winogradKernel(w.subarray((o * cin + c) * taps, (o * cin + c + 1) * taps), kh, kw)
          : null;
        for (let ab = 0; ab < np; ab++) {
          assert.equal(
            packed[(ab * cin + c) * cpad + o],
            t ? Math.fround(t[ab]) : 0,
            `${[cout, cin, kh, kw]} o${o} c${c}`,
          );
        }
      }
    }
  }
});

Deno.test("winogradKernel: a 3x3 kernel's transform is the double sum Gy[a][i] g[i][j] Gx[b][j]", () => {
  const g = randomF32(9, 11), { y, x } = winogradScheme(3, 3)!, got = winogradKernel(g);
  const ax = x.g.length;
  for (let a = 0; a < y.g.length; a++) {
    for (let b = 0; b < ax; b++) {
      let want = 0;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) want += y.g[a][i] * g[i * 3 + j] * x.g[b][j];
      assert.ok(Math.abs(got[a * ax + b] - want) < 1e-12, `${a} ${b}: ${got[a * ax + b]} vs ${want}`);
    }
  }
});

/**
 * The root-mean-square error of scheme kh x kw in float32 against float64 over `tiles` random tiles of
 * `channels` input channels (values and weights uniform in [-1, 1]): the transforms of the kernels made in
 * float64 and rounded once, as winogradWeights makes them; everything else rounded to float32 after each
 * product and sum, in the kernels' order (By^T d, then times Bx; the sum over channels; Ay^T M, then times Ax).
 */
function float32Error(kh: number, kw: number, channels: number, tiles: number, seed: number): number {
  const { y, x } = winogradScheme(kh, kw)!, f = Math.fround;
  const [ay, ax] = [y.bt.length, x.bt.length];
  // Ly V Lx^T of a row-major block V in float32: T = Ly V first, then T Lx^T.
  const sandwich = (ly: number[][], lx: number[][], v: ArrayLike<number>) => {
    const qx = lx[0].length;
    const t = ly.map((row) =>
      Array.from({ length: qx }, (_, j) => row.reduce((s, c, k) => f(s + f(c * v[k * qx + j])), 0))
    );
    return t.flatMap((tr) => lx.map((row) => row.reduce((s, c, k) => f(s + f(c * tr[k])), 0)));
  };
  let squares = 0;
  for (let t = 0; t < tiles; t++) {
    const g = randomF32(channels * kh * kw, seed++), d = randomF32(channels * ay * ax, seed++);
    const m = new Array(ay * ax).fill(0);
    for (let c = 0; c < channels; c++) {
      const w = winogradKernel(g.subarray(c * kh * kw, (c + 1) * kh * kw), kh, kw);
      const u = sandwich(y.bt, x.bt, d.subarray(c * ay * ax, (c + 1) * ay * ax));
      for (let e = 0; e < ay * ax; e++) m[e] = f(m[e] + f(f(w[e]) * u[e]));
    }
    const out = sandwich(y.at, x.at, m);
    for (let i = 0; i < y.m; i++) {
      for (let j = 0; j < x.m; j++) {
        let ref = 0;
        for (let c = 0; c < channels; c++) {
          for (let u = 0; u < kh; u++) {
            for (let v = 0; v < kw; v++) ref += g[(c * kh + u) * kw + v] * d[(c * ay + i + u) * ax + j + v];
          }
        }
        squares += (out[i * x.m + j] - ref) ** 2;
      }
    }
  }
  return Math.sqrt(squares / (tiles * y.m * x.m));
}

Deno.test("every Winograd scheme is at least as accurate in float32 as F(1x2, 1x7), the least accurate", () => {
  // RMS errors over 500 tiles of 6 channels (2026-12-03): F(1x2, 1x7) 9.5e-7, F(2x3, 3x3) 6.1e-7, F(1x4, 1x3)
  // 3.7e-7 (F(2x2, 3x3) 3.2e-7, F(1x2, 1x3) 1.3e-7, F(2x4, 3x3) 8.6e-7, F(4x4, 3x3) 2.1e-6).
  const bound = float32Error(1, 7, 6, 500, 1000);
  assert.ok(bound > 5e-7 && bound < 1.5e-6, `F(1x2, 1x7): ${bound}`);
  // 7x1 runs F(2x1, 7x1), the same one-dimensional algorithm as 1x7 along the other axis.
  for (const [kh, kw] of [[3, 3], [1, 3], [3, 1]]) {
    const err = float32Error(kh, kw, 6, 500, 2000 + kh * 10 + kw);
    assert.ok(err > 0 && err < bound, `${kh}x${kw}: ${err} against ${bound}`);
  }
});

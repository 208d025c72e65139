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

import assert from "node:assert/strict";
import { winograd1d, winogradKernel, winogradScheme } from "../kernels/winograd.ts";
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
  assert.equal(winogradScheme(3, 3)?.points, 16);
  assert.equal(winogradScheme(1, 7)?.points, 8);
  assert.equal(winogradScheme(7, 1)?.points, 8);
  assert.equal(winogradScheme(1, 3)?.points, 4);
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

import assert from "node:assert/strict";
import { f32Literal, linearCombination, memoized, range } from "../kernels/unroll.ts";

Deno.test("unrolled WGSL helpers: ranges, f32 literals and linear combinations", () => {
  assert.deepEqual(range(3), [0, 1, 2]);
  assert.deepEqual(range(0), []);
  assert.equal(f32Literal(4), "4.0");
  assert.equal(f32Literal(-0.5), "-0.5");
  assert.equal(f32Literal(1e-7), "1e-7");
  assert.equal(linearCombination([1, 0, -1, 0], ["a", "b", "c", "d"]), "a - c");
  assert.equal(linearCombination([0, -1, 1, 0], ["a", "b", "c", "d"]), "-b + c");
  assert.equal(linearCombination([4, 0, -5, 0, 1], ["a", "b", "c", "d", "e"]), "4.0 * a - 5.0 * c + e");
  assert.equal(linearCombination([0, 0], ["a", "b"]), "0.0");
  // The expression evaluates to the combination.
  const x = [0.25, -3, 7];
  const expr = linearCombination([2, -0.5, 1], ["x0", "x1", "x2"]);
  assert.equal(new Function("x0", "x1", "x2", `return ${expr};`)(...x), 2 * 0.25 + 0.5 * 3 + 7);
});

Deno.test("memoized: one build per argument list, the same source for equal arguments", () => {
  let builds = 0;
  const build = memoized((k: number, shape: { v: number; rn: number }) => {
    builds++;
    return `k${k} v${shape.v} rn${shape.rn}`;
  });
  assert.equal(build(3, { v: 2, rn: 8 }), "k3 v2 rn8");
  assert.equal(build(3, { v: 2, rn: 8 }), "k3 v2 rn8");
  assert.equal(builds, 1);
  assert.equal(build(3, { v: 4, rn: 8 }), "k3 v4 rn8");
  assert.equal(builds, 2);
});

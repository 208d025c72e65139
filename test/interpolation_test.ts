/**
 * Video latent paths against gen_video.py: NumPy's shuffle/choice draws, the seed layout, and interp1d's
 * cubic and linear interpolation over tiled keyframes (constants computed with SciPy 1.17.1 / NumPy 2.4.6,
 * and an independent float64 B-spline collocation reference in test/ref/interp1d.ts).
 */
import assert from "node:assert/strict";
import {
  choiceWithoutReplacement,
  circularZ,
  frameCount,
  frameTime,
  KeyframeLoop,
  keyframeSeeds,
  shuffle,
  slerp,
  UniformCubicSpline,
} from "../models/interpolation.ts";
import { RandomState } from "../models/latents.ts";
import { readNpy } from "../formats/npy.ts";
import { assertClose, randomF32 } from "./reference.ts";
import { genVideoCell } from "./ref/interp1d.ts";
import { fixture, fixtureTest } from "./fixtures.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("shuffle and choice draw exactly as numpy RandomState", () => {
  assert.deepEqual(shuffle(new RandomState(123), range(10)), [4, 0, 7, 5, 8, 3, 1, 6, 9, 2]);
  const big = shuffle(new RandomState(99), range(300));
  assert.deepEqual(big.slice(0, 12), [43, 15, 271, 137, 214, 284, 10, 49, 7, 2, 148, 32]);
  assert.deepEqual(big.slice(-5), [201, 168, 185, 35, 129]);
  assert.deepEqual(choiceWithoutReplacement(new RandomState(5), 32, 8), [10, 17, 31, 5, 24, 20, 13, 25]);
  assert.throws(() => choiceWithoutReplacement(new RandomState(5), 3, 4));
});

Deno.test("keyframe seeds follow gen_video.py's layout and shuffle", () => {
  const a = keyframeSeeds(range(32), 4, 2, undefined, 7);
  assert.equal(a.numKeyframes, 4);
  assert.deepEqual(a.seeds, [
    2,
    26,
    1,
    9,
    13,
    5,
    20,
    16,
    27,
    17,
    21,
    11,
    31,
    12,
    18,
    0,
    30,
    6,
    24,
    28,
    10,
    29,
    8,
    14,
    7,
    23,
    19,
    3,
    22,
    25,
    4,
    15,
  ]);
  assert.deepEqual(keyframeSeeds([3, 9, 1000], 2, 1, 5, 1).seeds, [1000, 3, 3, 9, 3, 3, 9, 9, 1000, 1000]);
  assert.deepEqual(keyframeSeeds([3, 9, 1000], 2, 1, 2).seeds, [3, 9, 1000, 3]);
  assert.throws(() => keyframeSeeds(range(5), 2, 1), /divisible/);
});

// interp1d over x = arange(-6, 9), y = tile([[0.3, 1], [-1.2, 0.5], [2.5, -0.25]], 5), at frame / 15.
const KEYS = Float64Array.of(0.3, 1.0, -1.2, 0.5, 2.5, -0.25);
const SCIPY: Record<string, Record<number, number[]>> = {
  cubic: {
    0: [0.30000000000000004, 0.9999999999999998],
    1: [0.056777125311840586, 1.0423757436192669],
    7: [-1.1220332373824606, 1.0197159854154672],
    13: [-1.4044740960057018, 0.6610384625928666],
    29: [2.3747623104970255, -0.27466129341777],
    44: [0.5495809633467675, 0.9425707157935135],
  },
  linear: {
    0: [0.2999999999999998, 1.0],
    1: [0.19999999999999998, 0.9666666666666667],
    7: [-0.39999999999999997, 0.7666666666666666],
    13: [-1.0, 0.5666666666666667],
    29: [2.253333333333334, -0.19999999999999996],
    44: [0.44666666666666677, 0.9166666666666665],
  },
};

Deno.test("cubic and linear loops match scipy interp1d over the tiled keyframes", () => {
  for (const kind of ["cubic", "linear"] as const) {
    const loop = new KeyframeLoop(KEYS, 3, 2, kind);
    for (const [frame, expected] of Object.entries(SCIPY[kind])) {
      const got = loop.at(Number(frame) / 15);
      if (kind === "linear") assert.deepEqual(Array.from(got), expected, `linear frame ${frame}`);
      else assertClose(got, expected, { abs: 1e-14 }, `cubic frame ${frame}`);
    }
  }
});

Deno.test("cubic loop equals the B-spline collocation reference for random keyframes", () => {
  for (const [k, dim, wFrames] of [[1, 3, 7], [2, 5, 10], [4, 15, 60], [7, 4, 13]]) {
    const keys = Float64Array.from(randomF32(k * dim, 100 + k, -2, 2));
    const loop = new KeyframeLoop(keys, k, dim, "cubic");
    const rows = range(k).map((i) => Array.from(keys.subarray(i * dim, (i + 1) * dim)));
    const ref = genVideoCell(rows, wFrames);
    for (const frame of [0, 1, wFrames - 1, wFrames, Math.floor(k * wFrames / 2) + 1, k * wFrames - 1]) {
      assertClose(loop.at(frame / wFrames), ref(frame), { abs: 1e-12 }, `K=${k} frame ${frame}`);
    }
  }
});

Deno.test("not-a-knot spline interpolates its knots and reproduces cubics exactly", () => {
  const p = (x: number) => 0.5 * x ** 3 - 2 * x ** 2 + x - 3;
  const y = Float64Array.from(range(9), (i) => p(i - 2));
  const s = new UniformCubicSpline(y, 9, 1, -2);
  for (const x of [-2, -1.25, 0, 0.3, 2.5, 5.9, 6]) assertClose(s.at(x), [p(x)], { abs: 1e-11 }, `x=${x}`);
  assert.throws(() => new UniformCubicSpline(new Float64Array(3), 3, 1));
});

Deno.test("slerp keeps endpoints and follows the great circle", () => {
  const a = Float64Array.of(1, 0, 0), b = Float64Array.of(0, 2, 0);
  assertClose(slerp(a, b, 0), a, { abs: 1e-15 });
  assertClose(slerp(a, b, 1), b, { abs: 1e-15 });
  const mid = slerp(a, b, 0.5);
  assertClose(mid, [1.5 * Math.SQRT1_2, 1.5 * Math.SQRT1_2, 0], { abs: 1e-15 }, "midpoint");
  const loop = new KeyframeLoop(Float64Array.of(1, 0, 0, 0, 3, 4, 0, 2, 0, 0, 3, 4), 2, 6, "slerp", 3);
  assertClose(loop.at(0.5), [...mid, 0, 3, 4], { abs: 1e-15 }, "rows on their own circles");
  assertClose(loop.at(1.5), [...slerp(b, a, 0.5), 0, 3, 4], { abs: 1e-15 }, "wraps to keyframe 0");
});

Deno.test("frame timing: w_frames as gen_video.py, or a frame count", () => {
  assert.equal(frameCount(4, { wFrames: 120 }), 480);
  assert.equal(frameTime(7, 4, { wFrames: 120 }), 7 / 120);
  assert.equal(frameCount(4, { frames: 300 }), 300);
  assert.equal(frameTime(150, 4, { frames: 300 }), 2);
});

Deno.test("circular video z: two axes per cell from RandomState.choice, radius 5", () => {
  const frames = 9, cells = 4, zDim = 32;
  const z = circularZ(42, zDim, cells, frames);
  const [x, y] = [[29, 15, 24, 17], [8, 9, 30, 25]];
  for (let c = 0; c < cells; c++) {
    const row0 = z.subarray(c * zDim, (c + 1) * zDim);
    assert.equal(row0[x[c]], 5);
    assert.equal(row0[y[c]], 0);
    assert.equal(row0.reduce((s, v) => s + Math.abs(v), 0), 5);
    const quarter = z.subarray((2 * cells + c) * zDim, (2 * cells + c + 1) * zDim);
    assertClose([quarter[x[c]], quarter[y[c]]], [0, 5], { abs: 1e-6 });
    const last = z.subarray(((frames - 1) * cells + c) * zDim, ((frames - 1) * cells + c + 1) * zDim);
    assertClose(last, row0, { abs: 1e-6 }, "the loop closes");
  }
});

fixtureTest(
  "w per frame of a 1x1 grid over seeds 0,1,42,1000 of tiny-t equals gen_video.py's formula",
  "sg3",
  () => {
    const seeds = [0, 1, 42, 1000];
    const ws = seeds.map((s) => readNpy(fixture("sg3", "tiny-t", `ws-seed${s}-psi1.npy`)));
    const dim = ws[0].shape[1] * ws[0].shape[2];
    const keys = new Float64Array(seeds.length * dim);
    ws.forEach((w, i) => keys.set(w.data as Float32Array, i * dim));
    const loop = new KeyframeLoop(keys, seeds.length, dim, "cubic");
    const ref = genVideoCell(seeds.map((_, i) => Array.from(keys.subarray(i * dim, (i + 1) * dim))), 120);
    for (const frame of [0, 1, 59, 120, 333, 479]) {
      assertClose(loop.at(frame / 120), ref(frame), { abs: 1e-12 }, `frame ${frame}`);
    }
  },
);

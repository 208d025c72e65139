import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { assertClose, compare, randomF32 } from "./reference.ts";
import { fixture, fixtureTest } from "./fixtures.ts";
import { readNpy } from "../formats/npy.ts";
import { readTensor } from "../gpu/readback.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { integerShift, integerTranslate, integerTranslationMask } from "../kernels/eq_translate.ts";
import { fractionalAxis, fractionalTranslate, fractionalTranslationMask } from "../kernels/eq_fractional.ts";
import { rectMasks } from "../kernels/eq_mask.ts";
import { upfirdn2d } from "../kernels/eq_upfirdn.ts";
import { bandlimitFilter } from "../kernels/eq_bandlimit.ts";
import {
  fractionalRotation,
  pseudoRotation,
  pseudoRotationFilter,
  rotationFilter,
  rotationMatrix,
} from "../kernels/eq_rotate.ts";
import { maskedSquaredError } from "../kernels/eq_error.ts";
import {
  affineTransformationRef,
  bandlimitFilterRef,
  fractionalTranslationRef,
  type Images,
  integerTranslationRef,
  maskedSumsRef,
  pseudoRotationRef,
  upfirdn2dRef,
} from "./ref/eq_ops.ts";

type Shape = [number, number, number, number];

function images(shape: Shape, seed: number): Images {
  return { data: Float64Array.from(randomF32(shape.reduce((a, b) => a * b), seed)), shape };
}

/** Sample s of a batch as a batch of one. */
function sample(x: Images, s: number): Images {
  const [, c, h, w] = x.shape;
  const per = c * h * w;
  return { data: x.data.slice(s * per, (s + 1) * per), shape: [1, c, h, w] };
}

/** Concatenates per-sample reference outputs along N. */
function concat(parts: Images[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, p) => a + p.data.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p.data, o), o += p.data.length);
  return out;
}

/** Reads a mask [N, 1, H, W] and repeats it over `c` channels. */
async function maskNCHW(gpu: Gpu, m: Tensor, c: number): Promise<Float32Array> {
  const [n, , h, w] = m.shape;
  const v = await readTensor(gpu, m);
  const out = new Float32Array(n * c * h * w);
  for (let s = 0; s < n; s++) {
    for (let ch = 0; ch < c; ch++) out.set(v.subarray(s * h * w, (s + 1) * h * w), (s * c + ch) * h * w);
  }
  return out;
}

const up = (x: Images) => Float32Array.from(x.data);

Deno.test({
  name: "eq: integer translation matches the reference (per-sample shifts, awkward size)",
  ...GPU_TEST,
}, async () => {
  const gpu = await testGpu();
  const shape: Shape = [3, 2, 13, 17];
  const x = images(shape, 11);
  const ts: [number, number][] = [[0.125, -0.0625], [-3 / 17, 2 / 13], [0.078125, -0.046875]];
  const shifts = ts.flatMap(([tx, ty]) => [integerShift(tx, 17), integerShift(ty, 13)]);
  const img = await readTensor(gpu, integerTranslate(gpu, gpu.upload(up(x), shape), shifts));
  const rects = ts.map((_, s) => integerTranslationMask(shifts[2 * s], shifts[2 * s + 1], 17, 13));
  const mask = await maskNCHW(gpu, rectMasks(gpu, rects, 13, 17), 2);
  const refs = ts.map(([tx, ty], s) => integerTranslationRef(sample(x, s), tx, ty));
  assertClose(img, concat(refs.map((r) => r[0])), { abs: 1e-7 }, "image");
  assert.deepEqual(Array.from(mask), Array.from(concat(refs.map((r) => r[1]))));
});

Deno.test({
  name: "eq: fractional translation matches the reference (per-sample shifts, awkward size)",
  ...GPU_TEST,
}, async () => {
  const gpu = await testGpu();
  const shape: Shape = [3, 2, 15, 19];
  const x = images(shape, 12);
  const ts: [number, number][] = [[0.0123, -0.0456], [-0.124, 0.1249], [0.3, -0.21]];
  const axes = ts.map(([tx, ty]) =>
    [fractionalAxis(tx, 19), fractionalAxis(ty, 15)] as [
      ReturnType<typeof fractionalAxis>,
      ReturnType<typeof fractionalAxis>,
    ]
  );
  const img = await readTensor(gpu, fractionalTranslate(gpu, gpu.upload(up(x), shape), axes));
  const mask = await maskNCHW(
    gpu,
    rectMasks(gpu, axes.map(([ax, ay]) => fractionalTranslationMask(ax, ay, 19, 15)), 15, 19),
    2,
  );
  const refs = ts.map(([tx, ty], s) => fractionalTranslationRef(sample(x, s), tx, ty));
  assertClose(img, concat(refs.map((r) => r[0])), { abs: 1e-6 }, "image");
  assert.deepEqual(Array.from(mask), Array.from(concat(refs.map((r) => r[1]))));
});

Deno.test(
  { name: "eq: upfirdn2d matches the reference (up 1 and 4, per-sample filters, crop)", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const shape: Shape = [2, 3, 7, 9];
    const x = images(shape, 13);
    for (const [upf, fh, fw, pad] of [[4, 7, 5, [3, 1, 4, -2]], [1, 5, 3, [2, 2, 1, 3]]] as const) {
      const f = randomF32(2 * fh * fw, 14 + upf);
      const got = await readTensor(
        gpu,
        upfirdn2d(gpu, gpu.upload(up(x), shape), gpu.upload(f, [2, fh, fw]), {
          up: upf,
          padding: [...pad],
          gain: 3,
        }),
      );
      const want = [0, 1].map((s) =>
        upfirdn2dRef(sample(x, s), f.subarray(s * fh * fw, (s + 1) * fh * fw), fh, fw, upf, [...pad], 3)
      );
      assertClose(got, concat(want), { abs: 1e-5 }, `up ${upf}`);
    }
  },
);

Deno.test("eq: band-limit filter design matches the brute-force circular convolution", () => {
  for (const [angle, aflt, upf] of [[0.7, 8, 2], [-2.4, 64, 1], [1.9, 10, 4]] as const) {
    const mat = rotationMatrix(angle);
    const got = bandlimitFilter(mat, { a: 3, amax: 6, aflt, up: upf });
    const want = bandlimitFilterRef(mat, 3, 6, aflt, upf);
    assert.equal(got.size, want.size);
    assertClose(got.taps, want.taps, { abs: 1e-7 }, `angle ${angle} aflt ${aflt} up ${upf}`);
  }
});

Deno.test(
  { name: "eq: rotation and pseudo-rotation match the reference (awkward size)", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const shape: Shape = [2, 2, 11, 14];
    const x = images(shape, 15);
    const angles = [0.41, -2.9];
    const rot = fractionalRotation(gpu, gpu.upload(up(x), shape), angles);
    const refs = angles.map((a, s) => {
      const f = rotationFilter(a);
      return affineTransformationRef(sample(x, s), rotationMatrix(a), f.taps, f.size);
    });
    assertClose(await readTensor(gpu, rot.img), concat(refs.map((r) => r[0])), { abs: 1e-5 }, "rotation");
    const mask = await maskNCHW(gpu, rot.mask, 2);
    const { maxAbs } = compare(mask, concat(refs.map((r) => r[1])));
    assert.equal(maxAbs, 0, "rotation mask");
    const pseudo = pseudoRotation(gpu, gpu.upload(up(x), shape), angles);
    const prefs = angles.map((a, s) => {
      const f = pseudoRotationFilter(a);
      return pseudoRotationRef(sample(x, s), f.taps, f.size);
    });
    assertClose(
      await readTensor(gpu, pseudo.img),
      concat(prefs.map((r) => r[0])),
      { abs: 1e-6 },
      "pseudo-rotation",
    );
    assert.deepEqual(
      Array.from(await maskNCHW(gpu, pseudo.mask, 2)),
      Array.from(concat(prefs.map((r) => r[1]))),
    );
  },
);

Deno.test(
  { name: "eq: masked squared error sums match float64 (two masks, awkward size)", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const shape: Shape = [3, 3, 9, 23];
    const a = images(shape, 16), b = images(shape, 17);
    const m1 = randomF32(3 * 9 * 23, 18).map((v) => (v > -0.3 ? 1 : 0));
    const m2 = randomF32(3 * 9 * 23, 19).map((v) => (v > 0.2 ? 1 : 0));
    const got = await maskedSquaredError(gpu, gpu.upload(up(a), shape), gpu.upload(up(b), shape), [
      gpu.upload(m1, [3, 1, 9, 23]),
      gpu.upload(m2, [3, 1, 9, 23]),
    ]);
    const m = new Float64Array(a.data.length);
    for (let i = 0; i < m.length; i++) {
      const s = Math.floor(i / (3 * 9 * 23)), pix = i % (9 * 23);
      m[i] = m1[s * 9 * 23 + pix] * m2[s * 9 * 23 + pix];
    }
    const want = maskedSumsRef({ data: Float64Array.from(up(a)), shape }, {
      data: Float64Array.from(up(b)),
      shape,
    }, { data: m, shape });
    assertClose(got, want, { abs: 1e-4 });
    for (let s = 0; s < 3; s++) assert.equal(got[2 * s + 1], want[2 * s + 1]);
  },
);

// The official operators on a fixed batch (../shared/fixtures/sg3/eqops, see its manifest).
const EQ = "sg3/eqops";
const f32 = (name: string) => readNpy(fixture(EQ, name)).data as Float32Array;

fixtureTest("eq fixtures: rotation matrices and band-limit filters", EQ, () => {
  for (const [i, angle] of [0.3, -2.0, 3.0].entries()) {
    assert.deepEqual(Array.from(rotationMatrix(angle)), Array.from(f32(`rotation-matrix-${i}.npy`)));
    assertClose(rotationFilter(angle).taps, f32(`bandlimit-filter-${i}.npy`), { abs: 1e-6 }, `filter ${i}`);
    assertClose(
      pseudoRotationFilter(angle).taps,
      f32(`bandlimit-filter-up1-${i}.npy`),
      { abs: 1e-6 },
      `up1 ${i}`,
    );
  }
});

fixtureTest("eq fixtures: translation, rotation and pseudo-rotation operators", EQ, async () => {
  const gpu = await testGpu();
  const shape: Shape = [2, 3, 32, 32];
  const x = gpu.upload(f32("x.npy"), shape);
  const mask = (m: Tensor) => maskNCHW(gpu, m, 3);
  for (const [i, [tx, ty]] of [[0.0625, -0.09375], [-0.125, 0.125], [0.078125, -0.046875]].entries()) {
    const ix = integerShift(tx, 32), iy = integerShift(ty, 32);
    assertClose(
      await readTensor(gpu, integerTranslate(gpu, x, [ix, iy, ix, iy])),
      f32(`int-translation-${i}.img.npy`),
      { abs: 1e-5 },
      `int ${i}`,
    );
    const rect = integerTranslationMask(ix, iy, 32, 32);
    assert.deepEqual(
      Array.from(await mask(rectMasks(gpu, [rect, rect], 32, 32))),
      Array.from(f32(`int-translation-${i}.mask.npy`)),
    );
  }
  for (const [i, [tx, ty]] of [[0.0123, -0.0456], [-0.124, 0.1249], [0.05, 0.0]].entries()) {
    const axes: [ReturnType<typeof fractionalAxis>, ReturnType<typeof fractionalAxis>] = [
      fractionalAxis(tx, 32),
      fractionalAxis(ty, 32),
    ];
    const got = await readTensor(gpu, fractionalTranslate(gpu, x, [axes, axes]));
    assertClose(got, f32(`frac-translation-${i}.img.npy`), { abs: 1e-5 }, `frac ${i}`);
    const rect = fractionalTranslationMask(axes[0], axes[1], 32, 32);
    assert.deepEqual(
      Array.from(await mask(rectMasks(gpu, [rect, rect], 32, 32))),
      Array.from(f32(`frac-translation-${i}.mask.npy`)),
    );
  }
  for (const [i, angle] of [0.3, -2.0, 3.0].entries()) {
    const rot = fractionalRotation(gpu, x, [angle, angle]);
    const err = compare(await readTensor(gpu, rot.img), f32(`rotation-${i}.img.npy`));
    assert.ok(err.maxAbs <= 1e-4, `rotation ${i}: max abs ${err.maxAbs}`);
    const m = await mask(rot.mask), want = f32(`rotation-${i}.mask.npy`);
    const differ = m.reduce((a, v, j) => a + (v !== want[j] ? 1 : 0), 0);
    assert.ok(differ <= 0.005 * m.length, `rotation mask ${i}: ${differ} of ${m.length} differ`);
    const pseudo = pseudoRotation(gpu, x, [angle, angle]);
    assertClose(
      await readTensor(gpu, pseudo.img),
      f32(`pseudo-rotation-${i}.img.npy`),
      { abs: 1e-5 },
      `pseudo ${i}`,
    );
    assert.deepEqual(Array.from(await mask(pseudo.mask)), Array.from(f32(`pseudo-rotation-${i}.mask.npy`)));
    console.log(`rotation ${i}: max abs ${err.maxAbs.toExponential(2)}, mask differs at ${differ} px`);
  }
}, GPU_TEST);

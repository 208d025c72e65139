import assert from "node:assert/strict";
import type { Gpu } from "../gpu/device.ts";
import { numel } from "../gpu/tensor.ts";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { readTensor } from "../gpu/readback.ts";
import { filteredLrelu, filteredLreluCandidates, prepareFilter } from "../kernels/filtered_lrelu.ts";
import { assertClose, compare, randomF32 } from "./reference.ts";
import { filteredLreluRef } from "./ref/filtered_lrelu.ts";

type Padding = [number, number, number, number];

interface Case {
  name: string;
  n: number;
  c: number;
  h: number;
  w: number;
  up: number;
  down: number;
  ku: number;
  kd: number;
  fuFull?: boolean;
  fdFull?: boolean;
  pad: Padding;
  gain: number;
  slope: number;
  clamp: number | null;
}

// Layer shapes of StyleGAN3 (padding as the network computes it) plus odd and asymmetric ones.
const cases: Case[] = [
  {
    name: "up2 down2 separable",
    n: 2,
    c: 3,
    h: 21,
    w: 21,
    up: 2,
    down: 2,
    ku: 12,
    kd: 12,
    pad: [9, 8, 9, 8],
    gain: Math.SQRT2,
    slope: 0.2,
    clamp: 256,
  },
  {
    name: "up4 down2 cropping",
    n: 1,
    c: 2,
    h: 19,
    w: 19,
    up: 4,
    down: 2,
    ku: 24,
    kd: 12,
    pad: [-2, -5, -2, -5],
    gain: Math.SQRT2,
    slope: 0.2,
    clamp: 0.5,
  },
  {
    name: "radial down",
    n: 2,
    c: 2,
    h: 17,
    w: 23,
    up: 2,
    down: 2,
    ku: 12,
    kd: 12,
    fdFull: true,
    pad: [11, 10, 7, 6],
    gain: 1.3,
    slope: 0.2,
    clamp: null,
  },
  {
    // StyleGAN3-R's critically sampled layers: up 4, down 2 (two output rows per upsampled-row phase cycle).
    name: "radial down, up 4",
    n: 1,
    c: 3,
    h: 9,
    w: 14,
    up: 4,
    down: 2,
    ku: 24,
    kd: 12,
    fdFull: true,
    pad: [19, 18, 21, 17],
    gain: 1.1,
    slope: 0.2,
    clamp: 0.7,
  },
  {
    name: "full up, down 3",
    n: 1,
    c: 3,
    h: 13,
    w: 11,
    up: 3,
    down: 3,
    ku: 7,
    kd: 5,
    fuFull: true,
    pad: [3, -1, 2, 4],
    gain: 1,
    slope: 0.1,
    clamp: 1,
  },
  {
    name: "full up and down, down 3",
    n: 2,
    c: 2,
    h: 14,
    w: 9,
    up: 2,
    down: 3,
    ku: 6,
    kd: 5,
    fuFull: true,
    fdFull: true,
    pad: [4, 3, -1, 5],
    gain: 1.1,
    slope: 0.3,
    clamp: 2,
  },
  {
    name: "identity filters (ToRGB)",
    n: 3,
    c: 3,
    h: 18,
    w: 18,
    up: 1,
    down: 1,
    ku: 1,
    kd: 1,
    pad: [0, 0, 0, 0],
    gain: 1,
    slope: 1,
    clamp: 0.8,
  },
];

for (const k of cases) {
  Deno.test({ name: `filteredLrelu matches float64, every variant: ${k.name}`, ...GPU_TEST }, async () => {
    const gpu = await testGpu();
    const x = randomF32(k.n * k.c * k.h * k.w, 31, -2, 2);
    const bias = randomF32(k.c, 32, -0.5, 0.5);
    const fu = k.ku > 1 ? randomF32(k.fuFull ? k.ku * k.ku : k.ku, 33, 0, 0.5) : null;
    const fd = k.kd > 1 ? randomF32(k.fdFull ? k.kd * k.kd : k.kd, 34, -0.1, 0.4) : null;
    const shape = (f: Float32Array | null, full?: boolean) =>
      f ? (full ? [Math.sqrt(f.length), Math.sqrt(f.length)] : [f.length]) : null;
    const ref: number[] = [];
    const hw = k.h * k.w;
    let oh = 0, ow = 0;
    for (let s = 0; s < k.n; s++) {
      const planes = {
        data: Float64Array.from(x.subarray(s * k.c * hw, (s + 1) * k.c * hw)),
        c: k.c,
        h: k.h,
        w: k.w,
      };
      const r = filteredLreluRef(
        planes,
        bias,
        { f: fu, full: !!k.fuFull },
        { f: fd, full: !!k.fdFull },
        k.up,
        k.down,
        k.pad,
        k.gain,
        k.slope,
        k.clamp,
      );
      ref.push(...r.data.map((v) => v * 0.5));
      [oh, ow] = [r.h, r.w];
    }
    // float32 rounding of sums of up to 144 products grows with the values' magnitude.
    const absmax = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const xShape = [k.n, k.c, k.h, k.w];
    const x32 = gpu.upload(x, xShape), x16 = gpu.f16 ? gpu.upload(x, xShape, "f16") : null;
    const b = gpu.upload(bias, [k.c]);
    const fup = prepareFilter(gpu, fu, shape(fu, k.fuFull), k.up * k.up);
    const fdp = prepareFilter(gpu, fd, shape(fd, k.fdFull));
    const opts = { up: k.up, down: k.down, padding: k.pad, gain: k.gain, slope: k.slope, clamp: k.clamp };
    const variants = filteredLreluCandidates(gpu, xShape, fup, fdp, opts);
    assert.ok(variants.length > 0);
    for (const variant of variants) {
      const what = JSON.stringify(variant);
      const y = filteredLrelu(gpu, x32, b, fup, fdp, { ...opts, outScale: 0.5, variant });
      assert.deepEqual(y.shape, [k.n, k.c, oh, ow], what);
      assertClose(await readTensor(gpu, y), ref, { abs: 1e-6 * Math.max(1, absmax) }, what);
      if (!x16) continue;
      const y16 = filteredLrelu(gpu, x16, b, fup, fdp, { ...opts, outScale: 0.5, outDtype: "f16", variant });
      const got16 = await readTensor(gpu, y16);
      assert.ok(got16.some((v) => v !== 0), `${what}: f16 output is all zeros`);
      const err16 = compare(got16, ref).maxAbs;
      assert.ok(err16 <= 1e-2 * Math.max(1, absmax), `${what}: f16 error ${err16}`);
    }
  });
}

Deno.test(
  { name: "filteredLrelu variants with samples split into runs and bindings", ...GPU_TEST },
  async () => {
    const real = await testGpu();
    if (real.device.limits.maxStorageBuffersPerShaderStage < 19) return;
    const [n, c, h, w] = [3, 16, 18, 18];
    const x = real.upload(randomF32(n * c * h * w, 61, -2, 2), [n, c, h, w]);
    const bias = real.upload(randomF32(c, 62), [c]);
    const fu = prepareFilter(real, randomF32(12, 63, 0, 0.5), [12], 4);
    const opts = { up: 2, down: 2, padding: [9, 8, 9, 8] as Padding, gain: 1.4, slope: 0.2, clamp: 256 };
    // Samples span several bindings; with separable filters, runs hold 2 of the 3 samples of x-up's rows.
    for (const [shape, binding] of [[[12], 24576], [[12, 12], 32768]] as const) {
      const gpu: Gpu = Object.create(real, { maxBinding: { value: binding } });
      const fd = prepareFilter(real, randomF32(numel(shape), 64, -0.1, 0.4), shape);
      const variants = filteredLreluCandidates(gpu, x.shape, fu, fd, opts);
      assert.ok(variants.some((v) => v.kind !== "tiled"), "no streamed variant fits the bindings");
      for (const variant of variants) {
        const split = await readTensor(real, filteredLrelu(gpu, x, bias, fu, fd, { ...opts, variant }));
        const whole = await readTensor(real, filteredLrelu(real, x, bias, fu, fd, { ...opts, variant }));
        assert.deepEqual(split, whole, JSON.stringify(variant));
      }
    }
  },
);

/**
 * One test per kernel family at the channel counts and sizes of the real networks, against the float64
 * references of test/ref/, so that the kernels' tiling is verified at full scale and not only on the awkward
 * small shapes of the family tests: 512-channel modulated convolutions (StyleGAN3 at 1024 px: 512 channels up
 * to L6), the 1024-px critically sampled layer L13_1024_32 of stylegan3-t-1024 (1044 x 1044 in, 1024 x 1024
 * out; filtered_lrelu works per channel, so two channels cover its tiling), the 512-wide mapping layers, and
 * Inception's widest (2048 channels) and largest (147 px) convolutions. Spatial sizes of the 512-channel
 * convolutions are kept small so that the float64 references stay at a second or so on one core; at 36 px the
 * reference covers two slices of 32 of the 512 output channels.
 */
import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { assertClose, compare, randomF32 } from "./reference.ts";
import { readTensor } from "../gpu/readback.ts";
import { modulatedConv2d, prepareModConvWeight } from "../kernels/modconv.ts";
import { modulatedConv2dRef } from "./ref/modconv.ts";
import { filteredLrelu, prepareFilter } from "../kernels/filtered_lrelu.ts";
import { filteredLreluRef } from "./ref/filtered_lrelu.ts";
import { convCandidates, convGemm, packConvWeight } from "../kernels/conv_gemm.ts";
import { conv2dRef } from "./ref/conv.ts";

Deno.test(
  { name: "production scale: modulatedConv2d 512 -> 512 channels, 3x3 and 1x1", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    for (
      const c of [{ n: 2, ci: 512, co: 512, h: 10, w: 10, k: 3 }, {
        n: 1,
        ci: 512,
        co: 512,
        h: 13,
        w: 13,
        k: 1,
      }]
    ) {
      const t0 = performance.now();
      const x = randomF32(c.n * c.ci * c.h * c.w, 71, -2, 2);
      const w = randomF32(c.co * c.ci * c.k * c.k, 72);
      const s = randomF32(c.n * c.ci, 73, -1.5, 1.5);
      const pad = c.k - 1;
      const ref = modulatedConv2dRef(x, w, s, c, true, pad, 0.8);
      const t1 = performance.now();
      const mw = prepareModConvWeight(gpu, w, [c.co, c.ci, c.k, c.k], true);
      const y = modulatedConv2d(gpu, gpu.upload(x, [c.n, c.ci, c.h, c.w]), mw, gpu.upload(s, [c.n, c.ci]), {
        inputGain: 0.8,
        padding: pad,
      });
      assert.deepEqual(y.shape, [c.n, c.co, c.h + pad, c.w + pad]);
      // Sums of 512 x 9 products: the family test's 2e-5 (outputs are demodulated, O(1)).
      assertClose(await readTensor(gpu, y), ref, { abs: 2e-5 }, `modconv k=${c.k}`);
      console.log(
        `k=${c.k}: reference ${(t1 - t0).toFixed(0)} ms, GPU ${(performance.now() - t1).toFixed(0)} ms`,
      );
    }
  },
);

Deno.test(
  {
    name: "production scale: filteredLrelu of L13_1024_32 at full size (1046 px in, 1024 px out)",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    // The layer's 3x3 convolution (padding 2) makes its 1044 x 1044 input 1046 x 1046 before filtered_lrelu.
    const [c, h, w] = [2, 1046, 1046];
    const t0 = performance.now();
    const x = randomF32(c * h * w, 81, -2, 2);
    const bias = randomF32(c, 82, -0.5, 0.5);
    const fu = randomF32(12, 83, 0, 0.5), fd = randomF32(12, 84, -0.1, 0.4);
    const pad: [number, number, number, number] = [-11, -12, -11, -12];
    const ref = filteredLreluRef(
      { data: Float64Array.from(x), c, h, w },
      bias,
      { f: fu, full: false },
      { f: fd, full: false },
      2,
      2,
      pad,
      Math.SQRT2,
      0.2,
      256,
    );
    assert.deepEqual([ref.h, ref.w], [1024, 1024]);
    const t1 = performance.now();
    const opts = { up: 2, down: 2, padding: pad, gain: Math.SQRT2, slope: 0.2, clamp: 256 };
    const y = filteredLrelu(
      gpu,
      gpu.upload(x, [1, c, h, w]),
      gpu.upload(bias, [c]),
      prepareFilter(gpu, fu, [12], 4),
      prepareFilter(gpu, fd, [12]),
      opts,
    );
    assert.deepEqual(y.shape, [1, c, 1024, 1024]);
    const absmax = ref.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // The family test's tolerance: float32 rounding of sums of up to 144 products, scaled by magnitude.
    assertClose(await readTensor(gpu, y), ref.data, { abs: 1e-6 * Math.max(1, absmax) }, "L13_1024_32");
    console.log(`reference ${(t1 - t0).toFixed(0)} ms, GPU ${(performance.now() - t1).toFixed(0)} ms`);
  },
);

Deno.test({
  name: "production scale: convGemm at Inception's widest and largest layers",
  ...GPU_TEST,
}, async () => {
  const gpu = await testGpu();
  // [n, cin, h, w, cout, kh, kw, stride, padH, padW]: Mixed_7c's 1x1 branch (2048 -> 320 at 8x8), Mixed_7b's
  // 1x3 (384 -> 384, 8x8), Conv2d_2a_3x3 (32 -> 32 at 147 px).
  const cases = [
    [1, 2048, 8, 8, 320, 1, 1, 1, 0, 0],
    [1, 384, 8, 8, 384, 1, 3, 1, 0, 1],
    [1, 32, 147, 147, 32, 3, 3, 1, 0, 0],
  ] as const;
  let seed = 90;
  for (const [n, cin, h, w, cout, kh, kw, stride, padH, padW] of cases) {
    const x = randomF32(n * cin * h * w, seed++), wt = randomF32(cout * cin * kh * kw, seed++);
    const b = randomF32(cout, seed++);
    const ref = conv2dRef(x, [n, cin, h, w], wt, b, [cout, cin, kh, kw], stride, padH, padW, true);
    const abs = (a: Float32Array) => a.map(Math.abs);
    const mag = conv2dRef(
      abs(x),
      [n, cin, h, w],
      abs(wt),
      abs(b),
      [cout, cin, kh, kw],
      stride,
      padH,
      padW,
      false,
    );
    const k = cin * kh * kw + 1;
    const xt = gpu.upload(x, [n, cin, h, w]), weight = packConvWeight(gpu, wt, [cout, cin, kh, kw]);
    const bias = gpu.upload(b, [cout]);
    // Every tile variant (and the hardware adapters' workgroup tiles) on the widest layer; the default on the others (each variant costs seconds here).
    const every = [
      ...convCandidates(kh, kw),
      ...convCandidates(kh, kw, false).filter((t) => t.algo === "tiled"),
    ];
    for (const variant of cin === 2048 ? every : [undefined]) {
      const got = convGemm(gpu, xt, weight, { stride, padH, padW, bias, act: "relu", variant });
      assert.deepEqual(got.shape, ref.shape);
      // float32 sums of K products: rounding errors of a random walk, |err| <= 4 u sqrt(K) sum_k |x_k w_k|
      // per output (u = 2^-24; sum |x w| is the convolution of |x| with |w|).
      const v = await readTensor(gpu, got);
      v.forEach((g, i) => {
        const tol = 4 * 2 ** -24 * Math.sqrt(k) * mag.data[i];
        if (!(Math.abs(g - ref.data[i]) <= tol)) {
          assert.fail(
            `conv ${[cin, h, cout, kh, kw]} ${JSON.stringify(variant)} [${i}]: ${g} vs ${ref.data[i]}`,
          );
        }
      });
      got.destroy();
    }
  }
});

// 512 -> 512 channels at 36 px (StyleGAN3-T-1024's first layers: 36 px, 512 channels), so that the pixel
// tiling is covered at full channel count too. The GPU computes all 512 output channels; the float64 reference
// (a second per 32 channels on one core) is computed for two slices of 32 output channels, the first and the
// last (each output channel's demodulation depends only on its own weights and the styles, so a slice of the
// weight gives those channels exactly).
Deno.test(
  { name: "production scale: modulatedConv2d 512 -> 512 channels at 36 px (two output slices)", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const c = { n: 1, ci: 512, co: 512, h: 36, w: 36, k: 3 };
    const pad = c.k - 1, taps = c.ci * c.k * c.k, ho = c.h + pad, wo = c.w + pad;
    const x = randomF32(c.n * c.ci * c.h * c.w, 74, -2, 2);
    const w = randomF32(c.co * taps, 75);
    const s = randomF32(c.n * c.ci, 76, -1.5, 1.5);
    const t0 = performance.now();
    const mw = prepareModConvWeight(gpu, w, [c.co, c.ci, c.k, c.k], true);
    const y = modulatedConv2d(gpu, gpu.upload(x, [c.n, c.ci, c.h, c.w]), mw, gpu.upload(s, [c.n, c.ci]), {
      inputGain: 0.8,
      padding: pad,
    });
    assert.deepEqual(y.shape, [c.n, c.co, ho, wo]);
    const got = await readTensor(gpu, y);
    const t1 = performance.now();
    for (const first of [0, c.co - 32]) {
      const slice = w.subarray(first * taps, (first + 32) * taps);
      const ref = modulatedConv2dRef(x, slice, s, { ...c, co: 32 }, true, pad, 0.8);
      // Sums of 512 x 9 products: the family test's 2e-5 (outputs are demodulated, O(1)).
      const part = got.subarray(first * ho * wo, (first + 32) * ho * wo);
      console.log(
        `channels ${first}..${first + 31}: max abs error ${compare(part, ref).maxAbs.toExponential(2)}`,
      );
      assertClose(
        part,
        ref,
        { abs: 2e-5 },
        `modconv 36 px channels ${first}..${first + 31}`,
      );
    }
    console.log(
      `GPU ${(t1 - t0).toFixed(0)} ms, reference (64 channels) ${(performance.now() - t1).toFixed(0)} ms`,
    );
  },
);

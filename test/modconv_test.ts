import { GPU_TEST, testGpu } from "./gpu.ts";
import { readTensor } from "../gpu/readback.ts";
import { modulatedConv2d, prepareModConvWeight } from "../kernels/modconv.ts";
import { convCandidates } from "../kernels/conv_gemm.ts";
import { assertClose, compare, randomF32 } from "./reference.ts";
import { modulatedConv2dRef } from "./ref/modconv.ts";
import assert from "node:assert/strict";

const cases = [
  { n: 3, ci: 13, co: 37, h: 19, w: 23, k: 3, demod: true, gain: 0.7 },
  { n: 2, ci: 21, co: 70, h: 27, w: 37, k: 3, demod: true, gain: 1.1 },
  { n: 1, ci: 35, co: 67, h: 29, w: 31, k: 1, demod: true, gain: 0.9 },
  { n: 2, ci: 41, co: 3, h: 17, w: 9, k: 1, demod: false, gain: 1.3 },
  // 1x1 over 120-pixel maps: the input read as vec4s of pixels.
  { n: 2, ci: 19, co: 21, h: 12, w: 10, k: 1, demod: true, gain: 0.8 },
  // ... and over 63-pixel maps that start inside a vec4.
  { n: 2, ci: 20, co: 9, h: 9, w: 7, k: 1, demod: true, gain: 1.2 },
];

for (const c of cases) {
  Deno.test(
    {
      name: `modulatedConv2d matches float64 (k=${c.k}, ${c.ci}->${c.co} channels, demodulate=${c.demod})`,
      ...GPU_TEST,
    },
    async () => {
      const gpu = await testGpu();
      const x = randomF32(c.n * c.ci * c.h * c.w, 21, -2, 2);
      const w = randomF32(c.co * c.ci * c.k * c.k, 22);
      const s = randomF32(c.n * c.ci, 23, -1.5, 1.5);
      const pad = c.k - 1;
      const ref = modulatedConv2dRef(x, w, s, c, c.demod, pad, c.gain);
      const mw = prepareModConvWeight(gpu, w, [c.co, c.ci, c.k, c.k], c.demod);
      const args = [mw, gpu.upload(s, [c.n, c.ci])] as const;
      const y = modulatedConv2d(gpu, gpu.upload(x, [c.n, c.ci, c.h, c.w]), ...args, {
        inputGain: c.gain,
        padding: pad,
      });
      assert.deepEqual(y.shape, [c.n, c.co, c.h + pad, c.w + pad]);
      assertClose(await readTensor(gpu, y), ref, { abs: 2e-5 });
      // The workgroup-memory tiles of hardware adapters, direct and as Winograd's products (their input and output
      // factors).
      for (
        const variant of convCandidates(c.k, c.k, false).filter((t) =>
          t.algo === "tiled" || t.products === "tiled"
        )
      ) {
        const yt = modulatedConv2d(gpu, gpu.upload(x, [c.n, c.ci, c.h, c.w]), ...args, {
          inputGain: c.gain,
          padding: pad,
          variant,
        });
        assertClose(await readTensor(gpu, yt), ref, { abs: 2e-5 }, JSON.stringify(variant));
      }
      if (!gpu.f16) return;
      // f16 input and output, in f32 arithmetic (llvmpipe's default) and in f16 arithmetic (a GPU's).
      const half = convCandidates(c.k, c.k, true, 1, true, true).find((t) => t.half);
      for (const variant of [undefined, half]) {
        const y16 = modulatedConv2d(gpu, gpu.upload(x, [c.n, c.ci, c.h, c.w], "f16"), ...args, {
          inputGain: c.gain,
          padding: pad,
          outDtype: "f16",
          variant,
        });
        const got = await readTensor(gpu, y16);
        assert.ok(got.some((v) => v !== 0), "f16 output is all zeros");
        const absmax = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0), err = compare(got, ref).maxAbs;
        assert.ok(err <= 5e-3 * absmax, `f16 error ${err} ${JSON.stringify(variant)}`);
      }
    },
  );
}

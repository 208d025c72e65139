/**
 * Kernels on tensors larger than one storage binding: a view of the test GPU with a tiny
 * maxStorageBufferBindingSize makes the batch split into runs and each sample into several bindings.
 */
import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import type { Gpu } from "../gpu/device.ts";
import { readTensor } from "../gpu/readback.ts";
import { chunkRanges, itemRuns } from "../gpu/split.ts";
import { modulatedConv2d, prepareModConvWeight } from "../kernels/modconv.ts";
import { convCandidates } from "../kernels/conv_gemm.ts";
import { filteredLrelu, prepareFilter } from "../kernels/filtered_lrelu.ts";
import { upfirdn2d } from "../kernels/eq_upfirdn.ts";
import { assertClose, randomF32 } from "./reference.ts";
import { modulatedConv2dRef } from "./ref/modconv.ts";

/**
 * The same device, claiming a binding limit of `bytes` and reading storage buffers directly (not through
 * textures, which hold a whole run: see gpu/texture.ts), so that kernels read their runs chunk by chunk.
 */
function withBindingLimit(gpu: Gpu, bytes: number): Gpu {
  return Object.create(gpu, { maxBinding: { value: bytes }, textureReads: { value: false } });
}

Deno.test(
  { name: "itemRuns and chunkRanges cover the batch with aligned bindings", ...GPU_TEST },
  async () => {
    const gpu = withBindingLimit(await testGpu(), 8192);
    if (gpu.device.limits.maxStorageBuffersPerShaderStage < 19) return;
    const t = gpu.tensor([5, 16, 18, 18]);
    // 20736 bytes per sample: runs of 3 samples fit 8 chunks of 8192 bytes.
    assert.deepEqual(itemRuns(gpu, 5, [t], 8), [[0, 3], [3, 2]]);
    const { ranges, elems } = chunkRanges(gpu, t, 5, 2, 1);
    assert.equal(elems, 2048);
    assert.deepEqual(ranges.map((r) => [r.offset, r.size]), [[41472, 8192], [49664, 8192], [57856, 4352]]);
    assert.ok(ranges.every((r) => r.offset % gpu.bindingAlign === 0));
  },
);

Deno.test(
  { name: "modulatedConv2d and filteredLrelu with samples larger than a binding", ...GPU_TEST },
  async () => {
    const real = await testGpu();
    const gpu = withBindingLimit(real, 8192);
    if (gpu.device.limits.maxStorageBuffersPerShaderStage < 19) return;
    const dims = { n: 3, ci: 4, co: 16, h: 16, w: 16, k: 3 };
    const x = randomF32(dims.n * dims.ci * dims.h * dims.w, 51, -2, 2);
    const w = randomF32(dims.co * dims.ci * 9, 52);
    const s = randomF32(dims.n * dims.ci, 53);
    const mw = prepareModConvWeight(gpu, w, [dims.co, dims.ci, 3, 3], true);
    const xt = gpu.upload(x, [dims.n, dims.ci, dims.h, dims.w]), st = gpu.upload(s, [dims.n, dims.ci]);
    const ref = modulatedConv2dRef(x, w, s, dims, true, 2, 0.9);
    // The default tile, the hardware adapters' default (reading its input chunk by chunk: software adapters'
    // tiles read whole runs through textures), and their workgroup-memory tiles. (Winograd's U and M must hold a
    // sample in one binding, so the tiny binding limit leaves it out.)
    const y = modulatedConv2d(gpu, xt, mw, st, { inputGain: 0.9, padding: 2 });
    assertClose(await readTensor(real, y), ref, { abs: 2e-5 });
    for (const variant of convCandidates(3, 3, false).slice(0, 1)) {
      const ys = modulatedConv2d(gpu, xt, mw, st, { inputGain: 0.9, padding: 2, variant });
      assertClose(await readTensor(real, ys), ref, { abs: 2e-5 }, JSON.stringify(variant));
    }
    for (const variant of convCandidates(3, 3, false).filter((t) => t.algo === "tiled")) {
      const yt = modulatedConv2d(gpu, xt, mw, st, { inputGain: 0.9, padding: 2, variant });
      assertClose(await readTensor(real, yt), ref, { abs: 2e-5 }, JSON.stringify(variant));
    }

    // A 1x1 layer reads its input as vec4s of pixels, through the same chunks.
    const w1 = randomF32(dims.co * dims.ci, 57);
    const m1 = prepareModConvWeight(gpu, w1, [dims.co, dims.ci, 1, 1], true);
    const ref1 = modulatedConv2dRef(x, w1, s, { ...dims, k: 1 }, true, 0, 0.9);
    for (const variant of [undefined, convCandidates(1, 1, false)[0]]) {
      const y1 = modulatedConv2d(gpu, xt, m1, st, { inputGain: 0.9, padding: 0, variant });
      assertClose(await readTensor(real, y1), ref1, { abs: 2e-5 }, `1x1 ${JSON.stringify(variant)}`);
    }
    // ... also where each 15x15 map starts inside a vec4.
    const x2 = randomF32(dims.n * dims.ci * 15 * 15, 58, -2, 2);
    const y2 = modulatedConv2d(gpu, gpu.upload(x2, [dims.n, dims.ci, 15, 15]), m1, st, {
      inputGain: 0.9,
      padding: 0,
    });
    const ref2 = modulatedConv2dRef(x2, w1, s, { ...dims, h: 15, w: 15, k: 1 }, true, 0, 0.9);
    assertClose(await readTensor(real, y2), ref2, { abs: 2e-5 }, "1x1, 15x15");

    const bias = gpu.upload(randomF32(dims.co, 54), [dims.co]);
    const fu = prepareFilter(gpu, randomF32(12, 55, 0, 0.3), [12], 4);
    const fd = prepareFilter(gpu, randomF32(12, 56, 0, 0.3), [12]);
    const opts = {
      up: 2,
      down: 2,
      padding: [9, 8, 9, 8] as [number, number, number, number],
      gain: 1.4,
      slope: 0.2,
      clamp: 256,
    };
    const split = await readTensor(real, filteredLrelu(gpu, y, bias, fu, fd, opts));
    const whole = await readTensor(real, filteredLrelu(real, y, bias, fu, fd, opts));
    assert.deepEqual(split, whole);
  },
);

Deno.test(
  { name: "upfirdn2d with samples split into runs and bindings equals the whole run", ...GPU_TEST },
  async () => {
    const real = await testGpu();
    const gpu = withBindingLimit(real, 8192);
    if (gpu.device.limits.maxStorageBuffersPerShaderStage < 19) return;
    const shape = [3, 5, 13, 11];
    const x = real.upload(randomF32(shape.reduce((a, b) => a * b), 61), shape);
    for (const nf of [1, 3]) {
      const filters = real.upload(randomF32(nf * 16, 62 + nf), [nf, 4, 4]);
      const opts = { up: 2, padding: [3, 2, 3, 2] as [number, number, number, number], gain: 4 };
      const split = await readTensor(real, upfirdn2d(gpu, x, filters, opts));
      const whole = await readTensor(real, upfirdn2d(real, x, filters, opts));
      assert.deepEqual(split, whole);
    }
  },
);

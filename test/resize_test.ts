import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { assertClose, compare, rng } from "./reference.ts";
import { fixture, fixtureTest } from "./fixtures.ts";
import { resizePlaneRef } from "./ref/resize.ts";
import { imagesToNCHW, isIdentity, resampleTable, resize, type ResizeMethod } from "../kernels/resize.ts";
import { readTensor } from "../gpu/readback.ts";
import { readNpy, toFloat64 } from "../formats/npy.ts";
import type { Gpu } from "../gpu/device.ts";

const METHODS: ResizeMethod[] = ["tf1-bilinear", "torch-bilinear", "pil-bicubic"];

/** Resizes uint8 NHWC images on the GPU; returns NCHW float values. */
async function gpuResize(
  gpu: Gpu,
  bytes: Uint8Array,
  [n, h, w, c]: number[],
  method: ResizeMethod,
  oh: number,
  ow: number,
): Promise<Float32Array> {
  const x = imagesToNCHW(gpu, bytes, n, h, w, c);
  // clean-fid clips its bicubic output to the uint8 range.
  const post = method === "pil-bicubic" ? { lo: 0, hi: 255 } : {};
  return await readTensor(gpu, resize(gpu, x, method, oh, ow, post));
}

/** The float64 reference of NHWC uint8 images (grey repeated to 3 channels), NCHW out. */
function cpuResize(bytes: Uint8Array, [n, h, w, c]: number[], method: ResizeMethod, oh: number, ow: number) {
  const out = new Float64Array(n * 3 * oh * ow);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const plane = new Float64Array(h * w);
      for (let p = 0; p < h * w; p++) plane[p] = bytes[(i * h * w + p) * c + (c === 1 ? 0 : ch)];
      const r = resizePlaneRef(plane, h, w, oh, ow, method);
      if (method === "pil-bicubic") r.forEach((v, k) => r[k] = Math.min(255, Math.max(0, v)));
      out.set(r, (i * 3 + ch) * oh * ow);
    }
  }
  return out;
}

for (const method of METHODS) {
  Deno.test({ name: `resize ${method} matches float64 on awkward sizes`, ...GPU_TEST }, async () => {
    const gpu = await testGpu();
    const r = rng(7);
    for (
      // The last three keep one axis or both (no pass for an identity axis).
      const [shape, oh, ow] of [
        [[2, 13, 17, 3], 31, 29],
        [[1, 40, 37, 1], 11, 13],
        [[1, 9, 9, 3], 9, 9],
        [[1, 13, 17, 3], 13, 29],
        [[1, 12, 17, 1], 25, 17],
      ] as const
    ) {
      const bytes = Uint8Array.from(
        { length: shape.reduce((a: number, b: number) => a * b, 1) },
        () => Math.floor(r() * 256),
      );
      const got = await gpuResize(gpu, bytes, [...shape], method, oh, ow);
      // The bilinear kernels round source coordinates to float32 as TF and torch do; 1e-3 covers that.
      assertClose(got, cpuResize(bytes, [...shape], method, oh, ow), { abs: 1e-3 }, `${method} ${shape}`);
    }
  });
}

/** NCHW uint8 fixture source -> NHWC bytes. */
function nhwc(path: string): { bytes: Uint8Array; shape: number[] } {
  const a = readNpy(path);
  const [n, c, h, w] = a.shape;
  const src = a.data as Uint8Array;
  const bytes = new Uint8Array(src.length);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) bytes[(i * h * w + p) * c + ch] = src[(i * c + ch) * h * w + p];
    }
  }
  return { bytes, shape: [n, h, w, c] };
}

const FIXTURE_NAMES: Record<string, [ResizeMethod, number][]> = {
  tf1_legacy_bilinear: [["tf1-bilinear", 2e-3]],
  nvidia_gridsample: [["tf1-bilinear", 2e-3]],
  pytorchfid_bilinear: [["torch-bilinear", 2e-3]],
  cleanfid_pil_bicubic_float: [["pil-bicubic", 1e-3]],
};

fixtureTest("resizes match the reference implementations' outputs", "inception", async () => {
  const gpu = await testGpu();
  const up = nhwc(fixture("inception/resize/small_src_up_1x3x13x17.npy"));
  const down = nhwc(fixture("inception/resize/small_src_down_1x3x40x36.npy"));
  const img4 = readNpy(fixture("inception/images/images_64.npy"));
  const img4Bytes = (img4.data as Uint8Array).subarray(0, 64 * 64 * 3);
  for (const [name, [[method, tol]]] of Object.entries(FIXTURE_NAMES)) {
    const cases: [Uint8Array, number[], number, number, string][] = [
      [up.bytes, up.shape, 31, 29, "small_up_to_31x29"],
      [down.bytes, down.shape, 11, 13, "small_down_to_11x13"],
      [img4Bytes, [1, 64, 64, 3], 299, 299, "img4_64to299"],
    ];
    for (const [bytes, shape, oh, ow, tag] of cases) {
      const expected = toFloat64(readNpy(fixture(`inception/resize/${name}_${tag}.npy`)));
      const got = await gpuResize(gpu, bytes, shape, method, oh, ow);
      assertClose(got, expected, { abs: tol }, `${name} ${tag}`);
      console.log(`${name} ${tag}: max abs error ${compare(got, expected).maxAbs.toExponential(2)}`);
    }
  }
}, GPU_TEST);

Deno.test("every method's table at the same size is the identity, and no other is", () => {
  for (const method of METHODS) {
    for (const size of [1, 2, 9, 299]) {
      assert.ok(isIdentity(resampleTable(method, size, size)), `${method} ${size}`);
    }
    assert.ok(!isIdentity(resampleTable(method, 299, 298)), method);
    assert.ok(!isIdentity(resampleTable(method, 64, 299)), method);
  }
});

import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { assertClose, randomF32 } from "./reference.ts";
import { conv2dRef, pool2dRef } from "./ref/conv.ts";
import {
  convCandidates,
  convGemm,
  type ConvVariant,
  convWeightTensors,
  fillingFirst,
  fitRun,
  halfRun,
  MIN_FILL_WG,
  packConvWeight,
} from "../kernels/conv_gemm.ts";
import { winogradKernel, winogradScheme } from "../kernels/winograd.ts";
import { TILED_SLAB } from "../kernels/conv_tiled.ts";
import { globalAvgPool, pool2d } from "../kernels/pool.ts";
import { readTensor } from "../gpu/readback.ts";

/**
 * Every tile the tuner may pick for a kernel, on software and on hardware adapters, each once: a tile that
 * software adapters read through textures and hardware ones from storage buffers runs in the form of the
 * adapter under test (the two sum alike; "texture and storage reads agree bit for bit" compares them); and
 * the software default with the smallest workgroup {@link fillingFirst} gives it.
 */
function everyVariant(kh: number, kw: number, stride: number, half = false, software = true): ConvVariant[] {
  const soft = convCandidates(kh, kw, true, stride, true, half);
  const all = [
    ...soft,
    fillingFirst(soft, () => 1, 4)[0],
    ...convCandidates(kh, kw, false, stride, true, half),
  ];
  const key = ({ tex: _, ...t }: ConvVariant) => JSON.stringify(t);
  const unique = new Map<string, ConvVariant>();
  for (const v of all) if (!unique.has(key(v)) || !!v.tex === software) unique.set(key(v), v);
  return [...unique.values()];
}

const CASES = [
  // [n, cin, h, w, cout, kh, kw, stride, padH, padW]
  [2, 3, 19, 23, 5, 3, 3, 2, 0, 0],
  [3, 7, 9, 11, 67, 1, 7, 1, 0, 3],
  [1, 13, 10, 8, 17, 7, 1, 1, 3, 0],
  [2, 5, 12, 12, 70, 5, 5, 1, 2, 2],
  [1, 33, 6, 5, 3, 1, 1, 1, 0, 0],
  [2, 4, 17, 15, 9, 3, 3, 2, 1, 1],
  [2, 3, 11, 6, 9, 3, 1, 2, 1, 0],
  [2, 9, 5, 7, 21, 1, 1, 1, 0, 0],
  // 1x1 over whole maps of a multiple of 4 pixels: read as vec4s of pixels.
  [2, 11, 6, 6, 13, 1, 1, 1, 0, 0],
  // ... and maps that start inside a vec4 (35, 9 and 18 pixels: each channel's plane starts (c h w) mod 4 values
  // into a vec4; channels such that each sample holds a multiple of 4 values).
  [2, 12, 5, 7, 13, 1, 1, 1, 0, 0],
  [2, 8, 3, 3, 11, 1, 1, 1, 0, 0],
  [1, 6, 3, 6, 10, 1, 1, 1, 0, 0],
  // 1x3 and 3x1 stride 1 (one-dimensional Winograd variants too), odd sizes.
  [2, 6, 9, 10, 19, 1, 3, 1, 0, 1],
  [1, 5, 11, 7, 21, 3, 1, 1, 1, 0],
  // 3x3 stride 1 (Winograd variants too): odd output sizes, and StyleGAN3's full padding.
  [2, 6, 13, 9, 37, 3, 3, 1, 1, 1],
  [1, 5, 7, 10, 33, 3, 3, 1, 2, 2],
  // ... and inputs of a multiple of 4 values per sample, whose Winograd input transforms read rows as vec4s
  // (9-pixel rows: each row starts at another offset within a vec4); 1x7 likewise.
  [2, 4, 11, 9, 37, 3, 3, 1, 1, 1],
  [1, 4, 9, 11, 67, 1, 7, 1, 0, 3],
] as const;

Deno.test(
  { name: "convGemm matches float64 on awkward shapes, every tile variant", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    let seed = 10;
    for (const [n, cin, h, w, cout, kh, kw, stride, padH, padW] of CASES) {
      const x = randomF32(n * cin * h * w, seed++);
      const wt = randomF32(cout * cin * kh * kw, seed++);
      const b = randomF32(cout, seed++);
      const xt = gpu.upload(x, [n, cin, h, w]), weight = packConvWeight(gpu, wt, [cout, cin, kh, kw]);
      const bias = gpu.upload(b, [cout]);
      for (const relu of [false, true]) {
        const ref = conv2dRef(x, [n, cin, h, w], wt, b, [cout, cin, kh, kw], stride, padH, padW, relu);
        for (const variant of everyVariant(kh, kw, stride, false, gpu.textureReads)) {
          const got = convGemm(gpu, xt, weight, {
            stride,
            padH,
            padW,
            bias,
            act: relu ? "relu" : "linear",
            variant,
          });
          assert.deepEqual(got.shape, ref.shape);
          assertClose(
            await readTensor(gpu, got),
            ref.data,
            { abs: 1e-5 },
            `conv ${[n, cin, h, w, cout, kh, kw]} ${JSON.stringify(variant)}`,
          );
        }
      }
    }
  },
);

Deno.test(
  {
    name:
      "convGemm over f16 inputs: f32 arithmetic matches float64, f16 arithmetic within its rounding bound",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    if (!gpu.f16) return;
    let seed = 40;
    // f16 unit roundoff.
    const u = 2 ** -11;
    for (const [n, cin, h, w, cout, kh, kw, stride, padH, padW] of CASES) {
      const shape = [n, cin, h, w], wshape = [cout, cin, kh, kw];
      const x16 = gpu.upload(randomF32(n * cin * h * w, seed++), shape, "f16");
      // The input as stored (rounded to f16).
      const x = await readTensor(gpu, x16);
      const wt = randomF32(cout * cin * kh * kw, seed++), b = randomF32(cout, seed++);
      const weight = packConvWeight(gpu, wt, wshape), bias = gpu.upload(b, [cout]);
      const ref = conv2dRef(x, shape, wt, b, wshape, stride, padH, padW, false).data;
      // sum |w x| + |b| per output: the scale of the rounding errors of a sum.
      const mag = conv2dRef(
        x.map(Math.abs),
        shape,
        wt.map(Math.abs),
        b.map(Math.abs),
        wshape,
        stride,
        padH,
        padW,
        false,
      )
        .data;
      // Every f16-arithmetic tile, and the first f32 one of each algorithm (the others differ from it only as on
      // f32 inputs, tested above).
      const variants = everyVariant(kh, kw, stride, true, gpu.textureReads).filter((t, i, all) =>
        t.half || all.findIndex((o) => !o.half && o.algo === t.algo) === i
      );
      assert.ok(variants.some((t) => t.half), "f16 inputs get f16-arithmetic tiles");
      for (const variant of variants) {
        const what = `conv ${[n, cin, h, w, cout, kh, kw]} ${JSON.stringify(variant)}`;
        const got = await readTensor(gpu, convGemm(gpu, x16, weight, { stride, padH, padW, bias, variant }));
        if (!variant.half) {
          assertClose(got, ref, { abs: 1e-5 }, what);
          continue;
        }
        // Each output sums runs of halfRun(kh * kw) channels (a slab, for workgroup tiles) in f16 (terms products
        // and as many additions, each rounded) with f16-rounded weights: the classic bound (terms + 2) u sum |w x|, and, since the
        // roundings do not all go one way, a root-mean-square error well under a tenth of it.
        const terms = variant.algo === "tiled" ? TILED_SLAB : halfRun(kh * kw) * kh * kw;
        let sq = 0, sqBound = 0;
        for (let i = 0; i < ref.length; i++) {
          const err = Math.abs(got[i] - ref[i]), bound = (terms + 2) * u * mag[i];
          assert.ok(err <= bound, `${what}: output ${i}: error ${err} > bound ${bound}`);
          sq += err * err;
          sqBound += bound * bound;
        }
        assert.ok(
          Math.sqrt(sq / sqBound) < 0.1,
          `${what}: rms error ${Math.sqrt(sq / sqBound)} of the bound`,
        );
      }
    }
  },
);

Deno.test({ name: "convGemm and pool2d write channel slices of a shared output", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const [n, cin, h, w] = [2, 6, 7, 9];
  const x = randomF32(n * cin * h * w, 99);
  const wt = randomF32(4 * cin, 98), b = randomF32(4, 97);
  const xt = gpu.upload(x, [n, cin, h, w]);
  const out = gpu.tensor([n, 4 + cin, h, w]);
  convGemm(gpu, xt, packConvWeight(gpu, wt, [4, cin, 1, 1]), {
    padH: 0,
    padW: 0,
    bias: gpu.upload(b, [4]),
    into: { out, cOffset: 0 },
  });
  pool2d(gpu, xt, "max", { k: 3, stride: 1, pad: 1 }, { out, cOffset: 4 });
  const got = await readTensor(gpu, out);
  const convRef = conv2dRef(x, [n, cin, h, w], wt, b, [4, cin, 1, 1], 1, 0, 0, false).data;
  const poolRef = pool2dRef(x, [n, cin, h, w], "max", 3, 1, 1).data;
  const expected = new Float64Array(got.length);
  for (let i = 0; i < n; i++) {
    expected.set(convRef.subarray(i * 4 * h * w, (i + 1) * 4 * h * w), i * (4 + cin) * h * w);
    expected.set(poolRef.subarray(i * cin * h * w, (i + 1) * cin * h * w), (i * (4 + cin) + 4) * h * w);
  }
  assertClose(got, expected, { abs: 1e-5 });
});

Deno.test(
  { name: "pools match float64 (average excludes padding), also with bias and ReLU", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    // Rows of 9 and 23 outputs: runs of 8 with a partial last one.
    for (const [shape, seed] of [[[1, 3, 25, 23], 6], [[2, 5, 11, 9], 5]] as [number[], number][]) {
      const x = randomF32(shape.reduce((a, b) => a * b), seed);
      const xt = gpu.upload(x, shape);
      for (const mode of ["avg", "max"] as const) {
        for (const [k, stride, pad] of [[3, 1, 1], [3, 2, 0], [2, 2, 1], [3, 2, 1]]) {
          const ref = pool2dRef(x, shape, mode, k, stride, pad);
          const got = pool2d(gpu, xt, mode, { k, stride, pad });
          assert.deepEqual(got.shape, ref.shape);
          assertClose(
            await readTensor(gpu, got),
            ref.data,
            { abs: 1e-6 },
            `${mode} ${shape} ${k} ${stride} ${pad}`,
          );
          // With a bias and ReLU: max(pool + b[channel], 0).
          const b = randomF32(shape[1], seed + 100);
          const plane = ref.data.length / (shape[0] * shape[1]);
          const biased = ref.data.map((v, i) => Math.max(v + b[Math.floor(i / plane) % shape[1]], 0));
          const withBias = pool2d(gpu, xt, mode, { k, stride, pad }, undefined, gpu.upload(b, [shape[1]]));
          assertClose(await readTensor(gpu, withBias), biased, { abs: 1e-6 }, `${mode} bias relu`);
          assert.ok(biased.some((v) => v === 0) && biased.some((v) => v > 0), "the ReLU clips some outputs");
        }
      }
    }
    const shape = [2, 5, 11, 9];
    const x = randomF32(shape.reduce((a, b) => a * b), 5);
    const xt = gpu.upload(x, shape);
    const g = await readTensor(gpu, globalAvgPool(gpu, xt));
    const gref = new Float64Array(10);
    for (let p = 0; p < 10; p++) for (let j = 0; j < 99; j++) gref[p] += x[p * 99 + j] / 99;
    assertClose(g, gref, { abs: 1e-6 });
  },
);

Deno.test(
  { name: "pools over batches larger than one binding run in pieces, bit for bit", ...GPU_TEST },
  async () => {
    const real = await testGpu();
    // 64 channels: every per-sample size a multiple of the 256-byte binding offset alignment (runs start at a
    // sample), down to the global pool's 64 values.
    const [n, c, h, w] = [6, 64, 8, 8];
    const xt = real.upload(randomF32(n * c * h * w, 311), [n, c, h, w]);
    const bias = real.upload(randomF32(c, 312), [c]);
    // Each pool writes channels [c, 2c) of a 2c-channel output, so that the pieces keep the channel slice.
    const pools = async (gpu: typeof real) => {
      const out = real.upload(new Float32Array(n * 2 * c * h * w), [n, 2 * c, h, w]);
      pool2d(gpu, xt, "avg", { k: 3, stride: 1, pad: 1 }, { out, cOffset: c }, bias);
      const strided = pool2d(gpu, xt, "max", { k: 3, stride: 2, pad: 0 });
      const global = globalAvgPool(gpu, xt);
      return [await readTensor(real, out), await readTensor(real, strided), await readTensor(real, global)];
    };
    // Launches recorded by `run`.
    const launches = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
      const sub = real.submission, dispatch = sub.dispatch;
      let count = 0;
      sub.dispatch = (d) => (count++, dispatch.call(sub, d));
      try {
        return [await run(), count];
      } finally {
        sub.dispatch = dispatch;
      }
    };
    const [whole, once] = await launches(() => pools(real));
    // An eighth of an output sample (2c planes) per binding: each sample spans several bindings (at most 8 per
    // tensor), and the launches run over pieces of the batch.
    const small = Object.create(real, { maxBinding: { value: (2 * c * h * w * 4) / 8 } });
    const [pieces, more] = await launches(() => pools(small));
    assert.ok(more > once, `${more} launches in pieces against ${once}`);
    assert.deepEqual(pieces, whole);
  },
);

Deno.test(
  { name: "convGemm epilogue: noise, bias, leaky ReLU, gain, clamp and accumulation", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const [n, cin, h, w, cout] = [2, 6, 9, 7, 10];
    const x = randomF32(n * cin * h * w, 201),
      wt = randomF32(cout * cin * 9, 202, -2, 2),
      b = randomF32(cout, 203);
    const shared = randomF32(h * w, 204),
      perSample = randomF32(n * h * w, 205),
      prior = randomF32(n * cout * h * w, 206);
    const conv =
      conv2dRef(x, [n, cin, h, w], wt, new Float32Array(cout), [cout, cin, 3, 3], 1, 1, 1, false).data;
    const xt = gpu.upload(x, [n, cin, h, w]), weight = packConvWeight(gpu, wt, [cout, cin, 3, 3]);
    const bias = gpu.upload(b, [cout]);
    for (const [noise, accumulate] of [[shared, false], [perSample, true]] as const) {
      const out = gpu.upload(prior, [n, cout, h, w]);
      const noiseT = gpu.upload(noise, noise === shared ? [h, w] : [n, h, w]);
      for (
        const variant of [
          ...convCandidates().slice(0, 2),
          ...convCandidates().filter((c) => !c.algo).slice(0, 2),
          ...convCandidates(3, 3, false).filter((c) => c.algo === "tiled"),
        ]
      ) {
        if (accumulate) gpu.write(out.buffer, 0, prior);
        convGemm(gpu, xt, weight, {
          padH: 1,
          padW: 1,
          bias,
          act: "lrelu",
          gain: 1.5,
          clamp: 2.5,
          noise: { tensor: noiseT, strength: 0.7 },
          into: { out, cOffset: 0 },
          accumulate,
          variant,
        });
        const ref = Float64Array.from(conv, (v, i) => {
          const pix = i % (h * w), s = Math.floor(i / (cout * h * w)), o = Math.floor(i / (h * w)) % cout;
          let t = v + (noise === shared ? noise[pix] : noise[s * h * w + pix]) * 0.7 + b[o];
          t = (t >= 0 ? t : 0.2 * t) * 1.5;
          t = Math.min(2.5, Math.max(-2.5, t));
          return accumulate ? prior[i] + t : t;
        });
        assertClose(
          await readTensor(gpu, out),
          ref,
          { abs: 2e-5 },
          `${JSON.stringify(variant)} accumulate ${accumulate}`,
        );
      }
    }
  },
);

Deno.test("fillingFirst shrinks the default's workgroup until every core has work, keeping its tile", () => {
  const tiles = convCandidates(1, 1);
  // 17x17 pixels, 768 -> 192 channels, batch 1, as one row of 289 pixels.
  const invocations = (t: { v: number; rn: number }) => Math.ceil(289 / t.rn) * Math.ceil(192 / (4 * t.v));
  assert.ok(invocations(tiles[0]) < 4 * tiles[0].wg, "the big default tile would leave cores idle here");
  const ordered = fillingFirst(tiles, invocations, 4);
  const { wg, ...tile } = ordered[0], { wg: wg0, ...tile0 } = tiles[0];
  assert.deepEqual(tile, tile0);
  assert.ok(wg < wg0 && wg >= MIN_FILL_WG && invocations(ordered[0]) >= 4 * wg, `wg ${wg}`);
  assert.ok(invocations(ordered[0]) < 4 * 2 * wg, "the largest workgroup that fills");
  assert.deepEqual(ordered.slice(1), tiles);
  // A launch that fills its workgroups keeps the order; a tiny one gets the smallest workgroup.
  assert.deepEqual(fillingFirst(tiles, () => 1e9, 4), tiles);
  assert.equal(fillingFirst(tiles, () => 1, 4)[0].wg, MIN_FILL_WG);
  // A Winograd default stays Winograd (direct tiles' sums differ in the last bits): the images must not
  // depend on the batch size.
  const square = convCandidates(3, 3);
  assert.equal(square[0].algo, "winograd");
  assert.equal(fillingFirst(square, () => 1, 4)[0].algo, "winograd");
});

Deno.test(
  { name: "Winograd convolution in chunks of samples equals the whole batch's, bit for bit", ...GPU_TEST },
  async () => {
    const real = await testGpu();
    const [n, cin, h, w, cout] = [3, 8, 11, 9, 12];
    const x = real.upload(randomF32(n * cin * h * w, 301), [n, cin, h, w]);
    const weight = packConvWeight(real, randomF32(cout * cin * 9, 302), [cout, cin, 3, 3]);
    // The register tiles (llvmpipe's default) and the workgroup-memory products (each sample's points using
    // their own W' from the chunk's first sample on).
    const tiled = convCandidates(3, 3, false).find((t) => t.products === "tiled")!;
    for (const variant of [convCandidates()[0], tiled]) {
      assert.equal(variant.algo, "winograd");
      const opts = { padH: 1, padW: 1, variant, act: "lrelu" as const };
      const whole = await readTensor(real, convGemm(real, x, weight, opts));
      // One sample's U and M (20 points x 12 channels x 32 tiles x 4 bytes: 18 tiles of 2 x 3, padded to the
      // 16-tile runs; 20 tiles padded to 4-tile runs for the workgroup products) fit, two do not: three chunks.
      const small = Object.create(real, { maxBinding: { value: 20 * 12 * 32 * 4 + 4 } });
      assert.deepEqual(
        await readTensor(real, convGemm(small, x, weight, opts)),
        whole,
        JSON.stringify(variant),
      );
    }
  },
);

Deno.test(
  { name: "Winograd's workgroup-memory products sum as its register tiles do, bit for bit", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    let seed = 310;
    for (const [kh, kw, cin, cout] of [[3, 3, 37, 45], [1, 7, 20, 33], [3, 1, 9, 70]]) {
      const x = gpu.upload(randomF32(2 * cin * 13 * 11, seed++), [2, cin, 13, 11]);
      const weight = packConvWeight(gpu, randomF32(cout * cin * kh * kw, seed++), [cout, cin, kh, kw]);
      const opts = { padH: (kh - 1) >> 1, padW: (kw - 1) >> 1 };
      const wino = convCandidates(kh, kw, false).filter((t) => t.algo === "winograd");
      const register = await readTensor(gpu, convGemm(gpu, x, weight, { ...opts, variant: wino[0] }));
      const tiled = wino.filter((t) => t.products === "tiled");
      assert.ok(tiled.length > 0, "hardware adapters get workgroup-memory products");
      for (const variant of tiled) {
        const got = await readTensor(gpu, convGemm(gpu, x, weight, { ...opts, variant }));
        assert.deepEqual(got, register, `${kh}x${kw} ${JSON.stringify(variant)}`);
      }
    }
  },
);

Deno.test("strided kernels start from the square default on llvmpipe, hardware from the GPU default", () => {
  const strided = convCandidates(3, 3, true, 2);
  assert.deepEqual({ ...strided[0], tex: undefined }, { v: 4, rn: 16, wg: 64, tex: undefined });
  assert.deepEqual(strided, convCandidates(3, 3, true, 1).filter((t) => !t.algo));
  assert.equal(convCandidates(3, 3, true, 1, false)[0].rn, 16);
  assert.deepEqual(convCandidates(3, 3, false, 2)[0], convCandidates(3, 3, false, 1, false)[0]);
});

Deno.test("fitRun keeps a tile's groups per line with the fewest pixels", () => {
  assert.equal(fitRun(16, 17), 9);
  assert.equal(fitRun(16, 8), 8);
  assert.equal(fitRun(16, 35), 12);
  assert.equal(fitRun(8, 17), 6);
  assert.equal(fitRun(16, 289), 16);
  assert.equal(fitRun(4, 4), 4);
  // Output channels in vec4s: 48 channels in two blocks of 6 vec4s, 80 in three of 7, 3 in one.
  assert.equal(fitRun(8, 12), 6);
  assert.equal(fitRun(8, 20), 7);
  assert.equal(fitRun(8, 1), 1);
  for (let length = 1; length < 70; length++) {
    for (const rn of [4, 8, 16, 32]) {
      const fitted = fitRun(rn, length);
      assert.ok(fitted <= rn && Math.ceil(length / fitted) === Math.ceil(length / rn), `${rn} ${length}`);
    }
  }
});

Deno.test(
  { name: "Winograd weights are made once, on first use, and freed with the weight", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const [cout, cin] = [5, 3];
    const wt = randomF32(cout * cin * 9, 401);
    const weight = packConvWeight(gpu, wt, [cout, cin, 3, 3]);
    assert.ok(weight.winograd, "3x3 weights carry a Winograd holder");
    assert.equal(packConvWeight(gpu, randomF32(cout * cin, 402), [cout, cin, 1, 1]).winograd, null);
    let uploads = 0;
    const counting = Object.create(gpu, {
      upload: { value: (...args: Parameters<typeof gpu.upload>) => (uploads++, gpu.upload(...args)) },
    });
    const first = weight.winograd.tensor(counting);
    assert.equal(weight.winograd.tensor(counting), first);
    assert.equal(uploads, 1);
    const points = winogradScheme(3, 3)!.points;
    assert.deepEqual(first.shape, [points * cin, 32]);
    // The transform on the GPU is the float64 one rounded to float32.
    const got = await readTensor(gpu, first);
    const t = winogradKernel(wt.subarray(0, 9));
    for (let ab = 0; ab < points; ab++) assert.equal(got[ab * cin * 32], Math.fround(t[ab]));
    for (const held of convWeightTensors(weight)) held.destroy();
    const again = weight.winograd.tensor(counting);
    assert.notEqual(again, first);
    assert.equal(uploads, 2);
    again.destroy();
  },
);

Deno.test({ name: "texture and storage reads agree bit for bit", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const cases = [
    // [n, cin, h, w, cout, k, pad, variant]: a 1x1 over vec4s of pixels, a 3x3 direct tile, a Winograd tile.
    [2, 12, 6, 6, 13, 1, 0, { v: 4, rn: 8, wg: 64 }],
    [2, 5, 11, 9, 21, 3, 1, { v: 2, rn: 8, wg: 64 }],
    [1, 6, 13, 9, 37, 3, 1, { v: 4, rn: 16, wg: 64, algo: "winograd" }],
  ] as const;
  let seed = 900;
  for (const [n, cin, h, w, cout, k, pad, tile] of cases) {
    const x = gpu.upload(randomF32(n * cin * h * w, seed++), [n, cin, h, w]);
    const weight = packConvWeight(gpu, randomF32(cout * cin * k * k, seed++), [cout, cin, k, k]);
    const run = async (variant: ConvVariant) =>
      await readTensor(gpu, convGemm(gpu, x, weight, { padH: pad, padW: pad, act: "relu", variant }));
    const storage = await run(tile), texture = await run({ ...tile, tex: true });
    assert.deepEqual(texture, storage, `${JSON.stringify(tile)}`);
    assert.ok(storage.some((v) => v > 0));
  }
});

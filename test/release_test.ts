import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { axpby } from "../kernels/elementwise.ts";
import { readTensor } from "../gpu/readback.ts";
import { BufferPool, LIVE_FACTOR, PEAK_WINDOW, sizeClass } from "../gpu/buffer_pool.ts";
import { pool2d } from "../kernels/pool.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { POISON } from "../gpu/submit.ts";
import { assertClose, randomF32 } from "./reference.ts";
import { randomNetwork } from "../models/random_init.ts";
import { Generator } from "../models/generator.ts";
import { RandomState } from "../models/latents.ts";

/** A stand-in for a GPUBuffer of `size` bytes (the pool only reads sizes). */
const fake = (size: number, name: string) => ({ size, label: name }) as unknown as GPUBuffer;

Deno.test("BufferPool: takes the latest buffer of a size, drops the oldest past its budget", () => {
  const pool = new BufferPool(100);
  const a = fake(40, "a"), b = fake(40, "b"), c = fake(16, "c"), d = fake(40, "d");
  assert.deepEqual(pool.put(a), []);
  assert.deepEqual(pool.put(b), []);
  assert.deepEqual(pool.put(c), []);
  assert.deepEqual(pool.put(c), [], "a free buffer is not added twice");
  assert.equal(pool.bytes, 96);
  assert.deepEqual(pool.put(d), [a], "136 bytes: the oldest goes");
  assert.equal(pool.bytes, 96);
  assert.equal(pool.take(40), d, "most recently released first");
  assert.equal(pool.take(40), b);
  assert.equal(pool.take(40), undefined);
  assert.equal(pool.take(12), undefined, "sizes match exactly");
  const huge = fake(101, "huge");
  assert.deepEqual(pool.put(huge), [huge], "larger than the whole budget: dropped at once");
  assert.equal(pool.take(16), c);
  assert.equal(pool.bytes, 0);
});

Deno.test("BufferPool: keeps up to twice the most bytes lent out at once, when that exceeds its floor", () => {
  const pool = new BufferPool(100);
  assert.equal(pool.budget, 100);
  const a = fake(80, "a"), b = fake(80, "b"), c = fake(80, "c");
  for (const x of [a, b, c]) pool.lend(x);
  assert.equal(pool.budget, 2 * 240, "240 bytes lent at once");
  assert.deepEqual(pool.put(a), []);
  assert.deepEqual(pool.put(b), []);
  assert.deepEqual(pool.put(c), [], "240 free bytes are within the budget, though above the floor");
  assert.equal(pool.bytes, 240);
  // Lent again one at a time: the peak, not the bytes lent now, sets the budget.
  assert.equal(pool.take(80), c);
  pool.lend(c);
  const big = fake(300, "big");
  pool.lend(big);
  assert.equal(pool.budget, 2 * 380);
  assert.deepEqual(pool.put(big), [], "460 free bytes");
  assert.deepEqual(pool.put(fake(400, "d")), [a, b], "860 free bytes: the oldest go until 760 hold");
  assert.equal(pool.bytes, 700);
  assert.equal(LIVE_FACTOR, 2);
});

Deno.test("BufferPool: destroyed tensors leave the live bytes; the peak of past windows is forgotten", () => {
  const pool = new BufferPool(10);
  const big = fake(1000, "big");
  pool.lend(big);
  assert.equal(pool.budget, 2000);
  pool.forget(big);
  const small = fake(20, "small");
  // One window of small lends (20 bytes live at most): the big peak still counts, as the last window's.
  for (let i = 0; i < PEAK_WINDOW - 1; i++) {
    pool.lend(small);
    pool.put(small);
    pool.take(20);
  }
  assert.equal(pool.budget, 2000);
  for (let i = 0; i < PEAK_WINDOW; i++) {
    pool.lend(small);
    pool.put(small);
    pool.take(20);
  }
  assert.equal(pool.budget, 40, "two windows later only the small tensors' peak counts");
});

Deno.test("sizeClass: at most 25% above the bytes asked for, a multiple of 4, never smaller, monotonic", () => {
  let last = 0;
  for (let b = 1; b < 1 << 21; b += 1 + Math.floor(b / 97)) {
    const c = sizeClass(b);
    assert.ok(c >= b && c % 4 === 0 && c >= last, `${b} -> ${c}`);
    assert.ok(b <= 16 ? c === 16 : c <= 1.25 * b + 4, `${b} -> ${c}`);
    last = c;
  }
  assert.deepEqual([4000, 4096, 4097, 5120, 5121].map(sizeClass), [4096, 4096, 5120, 5120, 6144]);
});

Deno.test(
  {
    name: "a released tensor's buffer serves the next tensor of its size, in order with recorded work",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    const n = 1001;
    const av = randomF32(n, 1), bv = randomF32(n, 2);
    const a = gpu.upload(av, [n]), b = gpu.upload(bv, [n]);
    const y = axpby(gpu, 1, a, 1, b); // recorded, not submitted
    gpu.release(a, b);
    // The next tensors of a's size get b's and a's buffers (latest first); writing them, by a kernel or from
    // the host, must not change what the recorded axpby reads.
    const c = axpby(gpu, 2, y, 0, y);
    assert.equal(c.buffer, b.buffer);
    const cv = randomF32(n, 3);
    const d = gpu.upload(cv, [n]);
    assert.equal(d.buffer, a.buffer);
    const sum = Float64Array.from(av, (v, i) => v + bv[i]);
    assertClose(await readTensor(gpu, y), sum, { abs: 1e-6 });
    assertClose(await readTensor(gpu, c), Float64Array.from(sum, (v) => 2 * v), { abs: 1e-5 });
    assertClose(await readTensor(gpu, d), Float64Array.from(cv), { abs: 0 });
    // A tensor of a similar size (the same size class) takes a released buffer too; it reads only its own bytes.
    gpu.release(c);
    const e = gpu.upload(randomF32(n + 9, 4), [n + 9]);
    assert.equal(e.buffer, c.buffer);
    assert.deepEqual(await readTensor(gpu, e), randomF32(n + 9, 4));
    gpu.release(d, e, y);
  },
);

Deno.test(
  {
    name: "poisoned allocations and releases read as NaN; zeros are zeros even in a reused buffer",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    gpu.submission.poison = true;
    try {
      const t = gpu.tensor([7]);
      const bits = new Uint32Array((await readTensor(gpu, t)).buffer);
      assert.deepEqual([...bits], Array(7).fill(POISON));
      gpu.release(t);
      const z = gpu.zeros([7]);
      assert.equal(z.buffer, t.buffer);
      assert.deepEqual([...await readTensor(gpu, z)], Array(7).fill(0));
      // Released, a tensor's buffer is poisoned in order: what reads it afterwards sees NaNs.
      const y = axpby(gpu, 1, z, 1, z);
      gpu.release(z);
      const late = readTensor(gpu, z);
      assert.deepEqual([...await readTensor(gpu, y)], Array(7).fill(0));
      assert.ok((await late).every(Number.isNaN));
      gpu.release(y);
    } finally {
      gpu.submission.poison = false;
    }
  },
);

Deno.test(
  {
    name:
      "a warm generator pass is at most two submissions, and a second pass over reused buffers gives the same bits",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    for (const cfg of ["stylegan3-t", "stylegan3-r"] as const) {
      const net = randomNetwork({ cfg, res: 32, cbase: 512, cmax: 16, zDim: 16, wDim: 16, seed: 5 });
      const gen = Generator.create(gpu, net);
      const z = new RandomState(1).randn(3 * gen.zDim);
      const pass = async () => {
        const before = gpu.submission.submitted;
        const ws = gen.mapping(z, 3);
        const img = gen.synthesis(ws);
        const out = await readTensor(gpu, img);
        gpu.release(ws, img);
        return { out, submissions: gpu.submission.submitted - before };
      };
      const first = await pass(), second = await pass();
      // Each pass starts on an idle GPU: what is recorded in the first milliseconds goes ahead, then the rest with
      // the readback (gpu/submit.ts), not a submission per launch.
      assert.ok(first.submissions <= 2, cfg);
      assert.ok(second.submissions <= 2, cfg);
      assert.deepEqual(second.out, first.out, cfg);
      assert.ok(first.out.every(Number.isFinite));
      gen.destroy();
    }
  },
);

Deno.test(
  { name: "a reused buffer written from the host is not read through a stale texture copy", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const shape = [1, 3, 9, 7], n = 3 * 9 * 7;
    const max3 = (t: Tensor) => pool2d(gpu, t, "max", { k: 3, stride: 1, pad: 1 });
    const a = gpu.upload(randomF32(n, 11), shape);
    const fromA = max3(a);
    await readTensor(gpu, fromA);
    gpu.release(a);
    const values = randomF32(n, 12);
    const c = gpu.upload(values, shape); // a's buffer, written with writeBuffer
    assert.equal(c.buffer, a.buffer);
    const fresh = gpu.upload(values, shape);
    assert.deepEqual(await readTensor(gpu, max3(c)), await readTensor(gpu, max3(fresh)));
    gpu.release(c, fresh, fromA);
  },
);

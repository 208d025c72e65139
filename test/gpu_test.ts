import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { axpby } from "../kernels/elementwise.ts";
import { matmul } from "../kernels/matmul.ts";
import { readTensor } from "../gpu/readback.ts";
import { splitRuns } from "../gpu/tensor.ts";
import { assertClose, randomF32 } from "./reference.ts";

Deno.test("splitRuns keeps runs within the byte limit and aligned", () => {
  assert.deepEqual(splitRuns(10, 4, 1000, 256), [[0, 10]]);
  const runs = splitRuns(1000, 12, 1024, 256);
  for (const [first, count] of runs) {
    assert.equal((first * 12) % 256, 0);
    assert.equal(count * 12 <= 1024, true);
  }
  assert.equal(runs.reduce((s, [, c]) => s + c, 0), 1000);
});

Deno.test({ name: "axpby matches float64 on an awkward size", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const n = 100_003;
  const a = randomF32(n, 1), b = randomF32(n, 2);
  const out = await readTensor(gpu, axpby(gpu, 0.75, gpu.upload(a, [n]), -1.5, gpu.upload(b, [n])));
  const ref = Float64Array.from(a, (x, i) => 0.75 * x - 1.5 * b[i]);
  assertClose(out, ref, { abs: 1e-6 });
});

Deno.test(
  { name: "axpby works on a tensor larger than maxStorageBufferBindingSize", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    // More elements than one binding holds on this adapter (128 MiB on llvmpipe, 2 GiB on an H100 -> capped).
    const n = Math.min(Math.floor(gpu.maxBinding / 4) + 12_345, 140_000_000);
    const a = randomF32(n, 3), b = randomF32(n, 4);
    const out = await readTensor(gpu, axpby(gpu, 2, gpu.upload(a, [n]), 0.5, gpu.upload(b, [n])));
    const ref = new Float64Array(n);
    for (let i = 0; i < n; i++) ref[i] = 2 * a[i] + 0.5 * b[i];
    assertClose(out, ref, { abs: 1e-6 });
    if (n * 4 <= gpu.maxBinding) console.log(`note: binding limit ${gpu.maxBinding} exceeds the test size`);
  },
);

function matmulRef(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transB: boolean,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * (transB ? b[j * k + t] : b[t * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

Deno.test({ name: "matmul matches float64 (plain, transposed, bias)", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const [m, k, n] = [37, 53, 29];
  const a = randomF32(m * k, 5), b = randomF32(k * n, 6), bias = randomF32(n, 7);
  const ta = gpu.upload(a, [m, k]);
  const plain = await readTensor(gpu, matmul(gpu, ta, gpu.upload(b, [k, n])));
  assertClose(plain, matmulRef(a, b, m, k, n, false), { abs: 1e-5 });
  const withBias = await readTensor(
    gpu,
    matmul(gpu, ta, gpu.upload(b, [n, k]), {
      transB: true,
      alpha: 0.5,
      bias: gpu.upload(bias, [n]),
      beta: 2,
    }),
  );
  const ref = matmulRef(a, b, m, k, n, true).map((v, i) => 0.5 * v + 2 * bias[i % n]);
  assertClose(withBias, ref, { abs: 1e-5 });
});

Deno.test({ name: "f16 tensors round-trip with values (not zeros)", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  if (!gpu.f16) return;
  const x = randomF32(1001, 8);
  const back = await readTensor(gpu, gpu.upload(x, [1001], "f16"));
  assertClose(back, x, { abs: 1e-3 });
});

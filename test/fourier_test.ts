import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { readTensor } from "../gpu/readback.ts";
import { fourierGrid, prepareFourierInput, synthesisInput } from "../kernels/fourier.ts";
import { assertClose, randomF32 } from "./reference.ts";
import { synthesisInputRef } from "./ref/fourier.ts";
import { sinError } from "../gpu/sin_probe.ts";
import { invert3x3, makeTransform } from "../models/transform.ts";

Deno.test("fourierGrid holds pixel centres over the sampling rate", () => {
  const g = fourierGrid(36, 16);
  assertClose(g, Array.from({ length: 36 }, (_, j) => (j + 0.5 - 18) / 16), { abs: 1e-6 });
});

Deno.test({
  name: "synthesisInput matches float64 with user transforms (builtin and polynomial sine)",
  ...GPU_TEST,
}, async () => {
  const real = await testGpu();
  for (const accurateSin of [true, false]) {
    // The polynomial sine is what adapters whose sin() is inaccurate (SwiftShader) use: test both here.
    const gpu = Object.create(real, { accurateSin: { value: accurateSin } });
    const [n, c, size, sr, bw] = [3, 19, 23, 16, 2];
    // Frequencies up to ~1.5 bandwidth so that some are damped; translations make arguments large.
    const freqs = randomF32(c * 2, 41, -3, 3), phases = randomF32(c, 42, -0.5, 0.5);
    const weight = randomF32(c * c, 43, -2, 2);
    const t = randomF32(n * 4, 44, -2, 2);
    const user = new Float32Array(n * 9);
    const transforms = [
      makeTransform([0.3, -0.1], 10),
      makeTransform([5.25, 3], -77),
      makeTransform([0, 0], 0),
    ];
    transforms.forEach((m, i) => user.set(invert3x3(m), i * 9));
    const input = prepareFourierInput(gpu, freqs, phases, weight, [size, size], sr, bw);
    const out = synthesisInput(gpu, input, gpu.upload(t, [n, 4]), gpu.upload(user, [n, 9]));
    assert.deepEqual(out.shape, [n, c, size, size]);
    const ref = synthesisInputRef(t, user, freqs, phases, weight, n, c, size, sr, bw);
    assertClose(
      await readTensor(real, out),
      ref,
      { abs: 2e-5 },
      accurateSin ? "builtin sin()" : "polynomial sine",
    );
  }
});

Deno.test({ name: "the sine probe measures the adapter's sin() against float64", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const error = await sinError(gpu.device);
  console.log(`${gpu.summary.description}: sin() max abs error ${error.toExponential(2)} on [-pi, pi]`);
  assert.ok(Number.isFinite(error) && error < 2 ** -11, "within WGSL's promise");
  assert.equal(gpu.accurateSin, error <= 5e-7);
});

import { GPU_TEST, testGpu } from "./gpu.ts";
import { readTensor } from "../gpu/readback.ts";
import { fullyConnected, normalize2ndMoment } from "../kernels/fc.ts";
import { broadcastTruncate } from "../kernels/truncation.ts";
import { assertClose, randomF32 } from "./reference.ts";
import { fcRef, normalize2ndMomentRef, truncateRef } from "./ref/fc.ts";

Deno.test({ name: "fullyConnected matches float64 (lrelu, linear, strided rows)", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const [n, inF, outF] = [5, 67, 37];
  const x = randomF32(n * inF, 11), w = randomF32(outF * inF, 12, -3, 3), b = randomF32(outF, 13);
  const tx = gpu.upload(x, [n, inF]), tw = gpu.upload(w, [outF, inF]), tb = gpu.upload(b, [outF]);
  const lrelu = fullyConnected(gpu, tx, tw, {
    bias: tb,
    weightGain: 0.01 / Math.sqrt(inF),
    biasGain: 0.01,
    activation: "lrelu",
  });
  assertClose(await readTensor(gpu, lrelu), fcRef(x, w, b, n, inF, outF, 0.01 / Math.sqrt(inF), 0.01, true), {
    abs: 1e-6,
  });
  // Row 1 of each sample of a [n, 3, inF / ...] style tensor: rows of stride 2 * 33 starting at 33.
  const d = 33;
  const rows = fullyConnected(gpu, tx, gpu.upload(w.subarray(0, outF * d), [outF, d]), {
    weightGain: 0.5,
    outScale: 0.25,
    rows: { n: 4, xStride: 2 * d, xOffset: d },
  });
  const xr = Float32Array.from({ length: 4 * d }, (_, i) => x[d + Math.floor(i / d) * 2 * d + (i % d)]);
  const ref = fcRef(xr, w, null, 4, d, outF, 0.5, 0, false).map((v) => v * 0.25);
  assertClose(await readTensor(gpu, rows), ref, { abs: 1e-6 });
});

Deno.test({ name: "normalize2ndMoment and broadcastTruncate match float64", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const [n, d] = [3, 77];
  const x = randomF32(n * d, 14, -2, 2);
  const out = gpu.tensor([n, d + 5]);
  normalize2ndMoment(gpu, gpu.upload(x, [n, d]), { tensor: out, stride: d + 5, offset: 5 });
  const got = (await readTensor(gpu, out)).filter((_, i) => i % (d + 5) >= 5);
  assertClose(got, normalize2ndMomentRef(x, n, d), { abs: 1e-6 });

  const wAvg = randomF32(d, 15);
  for (const [psi, cutoff] of [[0.7, 5], [0.3, 16], [1, 16], [-0.5, 20]]) {
    const ws = broadcastTruncate(gpu, gpu.upload(x, [n, d]), gpu.upload(wAvg, [d]), 7, psi, cutoff);
    assertClose(await readTensor(gpu, ws), truncateRef(x, wAvg, n, d, 7, psi, cutoff), { abs: 1e-6 });
  }
});

import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { axpby } from "../kernels/elementwise.ts";
import { readTensor } from "../gpu/readback.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { assertClose, randomF32 } from "./reference.ts";

Deno.test(
  {
    name: "release frees at once when nothing is recorded, else after the next flush or past the budget",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    gpu.flush();
    let destroyed = 0;
    const fake = (byteSize: number) => ({ byteSize, destroy: () => destroyed++ }) as unknown as Tensor;
    gpu.release(fake(16), null);
    assert.equal(destroyed, 1, "nothing recorded: freed at once");

    const n = 1001;
    const av = randomF32(n, 1), bv = randomF32(n, 2);
    const a = gpu.upload(av, [n]), b = gpu.upload(bv, [n]);
    const y = axpby(gpu, 1, a, 1, b);
    // a and b are really destroyed after the flush: the recorded work that reads them must still run.
    gpu.release(a, b, fake(16));
    assert.equal(destroyed, 1, "freed before the work using it was submitted");
    const out = await readTensor(gpu, y);
    assert.equal(destroyed, 2, "not freed by the flush of the readback");
    assertClose(out, Float64Array.from(av, (v, i) => v + bv[i]), { abs: 1e-6 });

    const y2 = axpby(gpu, 1, y, 1, y);
    gpu.release(fake(16));
    assert.equal(destroyed, 2);
    gpu.release(fake(65 << 20));
    assert.equal(destroyed, 4, "more than the budget waiting: not flushed at once");
    assertClose(await readTensor(gpu, y2), Float64Array.from(out, (v) => 2 * v), { abs: 1e-6 });
  },
);

/**
 * The reduction of the equivariance metrics: per sample, num = sum over (c, y, x) of
 * (ref - img)^2 * mask and den = sum of the mask over the same elements (so a mask [N, 1, H, W] counts once
 * per channel, as the official [N, C, H, W] masks do). The GPU sums each image row in float32; the host adds
 * the rows in float64, as the official `.to(torch.float64).sum()` does. Masks are 0/1, so den is exact.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { readTensor } from "../gpu/readback.ts";
import { grid1d, main1d } from "./grid.ts";

const WG = 64;

function source(masks: number): string {
  const product = Array.from({ length: masks }, (_, j) => `m${j}[mi]`).join(" * ");
  return /* wgsl */ `
// out: [rows, 2]
${main1d("r", "p.rows")}
  let y = r % p.h;
  let n = r / (p.h * p.c);
  var num = 0.0;
  var den = 0.0;
  for (var x = 0u; x < p.w; x++) {
    let i = r * p.w + x;
    let mi = (n * p.h + y) * p.w + x;
    let m = ${product};
    let d = a[i] - b[i];
    num += d * d * m;
    den += m;
  }
  out[2u * r] = num;
  out[2u * r + 1u] = den;
}`;
}

/**
 * Per-sample float64 [num, den] pairs (flattened, length 2N) for images a, b [N, C, H, W] and one or more
 * masks [N, 1, H, W] whose product is the mask. Waits for the GPU.
 */
export async function maskedSquaredError(
  gpu: Gpu,
  a: Tensor,
  b: Tensor,
  masks: Tensor[],
): Promise<Float64Array> {
  const [n, c, h, w] = a.shape;
  const rows = n * c * h;
  const out = gpu.tensor([rows, 2]);
  runProgram(gpu, {
    name: `masked_squared_error_${masks.length}`,
    params: { rows: ["u32", rows], c: ["u32", c], h: ["u32", h], w: ["u32", w] },
    buffers: [
      { name: "a", data: a },
      { name: "b", data: b },
      ...masks.map((m, j) => ({ name: `m${j}`, data: m })),
      { name: "out", data: out, access: "read_write" },
    ],
    workgroupSize: WG,
    source: source(masks.length),
    workgroups: grid1d(rows, WG, gpu.maxWorkgroups),
  });
  const partial = await readTensor(gpu, out);
  gpu.release(out);
  const sums = new Float64Array(2 * n);
  for (let r = 0; r < rows; r++) {
    const s = Math.floor(r / (c * h));
    sums[2 * s] += partial[2 * r];
    sums[2 * s + 1] += partial[2 * r + 1];
  }
  return sums;
}

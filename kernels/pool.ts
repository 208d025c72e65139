/**
 * Pooling over NCHW tensors: square windows with stride and zero-free padding, either the maximum or
 * the average of the in-bounds samples only (PyTorch's count_include_pad=False, which the FID Inception
 * blocks use), and the global average over all pixels. Window pools may write into a channel slice
 * of a larger output, like convGemm, so that they can form one branch of a concatenation.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import { convOutSize } from "./conv_gemm.ts";

const WG = 256;

function windowSource(mode: "avg" | "max"): string {
  const init = mode === "max" ? "-3.4028235e38" : "0.0";
  const step = mode === "max" ? "acc = max(acc, v);" : "acc += v;";
  const result = mode === "max" ? "acc" : "acc / f32(count)";
  return /* wgsl */ `
${main1d("i", "p.n * p.c * p.oh * p.ow")}
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let nc = i / (p.ow * p.oh);
  let ch = nc % p.c;
  let img = nc / p.c;
  let base = nc * p.h * p.w;
  var acc = ${init};
  var count = 0u;
  for (var dy = 0u; dy < p.k; dy++) {
    let iy = i32(oy * p.stride + dy) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var dx = 0u; dx < p.k; dx++) {
      let ix = i32(ox * p.stride + dx) - i32(p.pad);
      if (ix < 0 || ix >= i32(p.w)) { continue; }
      let v = x[base + u32(iy) * p.w + u32(ix)];
      ${step}
      count++;
    }
  }
  y[((img * p.cTotal + p.cOffset + ch) * p.oh + oy) * p.ow + ox] = ${result};
}`;
}

/** Pooling window. */
export interface PoolParams {
  /** Window size (k x k). */
  k: number;
  /** Step between windows, in input pixels. */
  stride: number;
  /** Padding on every side; padded samples never count (neither in the maximum nor the average). */
  pad: number;
}

/**
 * Max or average (of in-bounds samples only) pooling of x [N, C, H, W]; writes into `into` or returns
 * a new [N, C, OH, OW] tensor.
 */
export function pool2d(
  gpu: Gpu,
  x: Tensor,
  mode: "avg" | "max",
  { k, stride, pad }: PoolParams,
  into?: { out: Tensor; cOffset: number },
): Tensor {
  const [n, c, h, w] = x.shape;
  const oh = convOutSize(h, k, stride, pad), ow = convOutSize(w, k, stride, pad);
  const out = into?.out ?? gpu.tensor([n, c, oh, ow]);
  const cOffset = into?.cOffset ?? 0;
  const [on, cTotal, ooh, oow] = out.shape;
  if (on !== n || ooh !== oh || oow !== ow || cOffset + c > cTotal) {
    throw new Error(`pool2d: output [${out.shape}] cannot hold ${c} channels of ${oh}x${ow} at ${cOffset}`);
  }
  runProgram(gpu, {
    name: `${mode}_pool2d`,
    params: {
      n: ["u32", n],
      c: ["u32", c],
      h: ["u32", h],
      w: ["u32", w],
      oh: ["u32", oh],
      ow: ["u32", ow],
      k: ["u32", k],
      stride: ["u32", stride],
      pad: ["u32", pad],
      cTotal: ["u32", cTotal],
      cOffset: ["u32", cOffset],
    },
    buffers: [{ name: "x", data: x }, { name: "y", data: out, access: "read_write" }],
    workgroupSize: WG,
    source: windowSource(mode),
    workgroups: grid1d(n * c * oh * ow, WG, gpu.maxWorkgroups),
  });
  return out;
}

const GLOBAL_AVG = /* wgsl */ `
${main1d("i", "p.planes")}
  var acc = 0.0;
  for (var j = 0u; j < p.size; j++) { acc += x[i * p.size + j]; }
  y[i] = acc / f32(p.size);
}`;

/** Global average pool: x [N, C, H, W] -> [N, C], the mean of each plane. */
export function globalAvgPool(gpu: Gpu, x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const out = gpu.tensor([n, c]);
  runProgram(gpu, {
    name: "global_avg_pool",
    params: { planes: ["u32", n * c], size: ["u32", h * w] },
    buffers: [{ name: "x", data: x }, { name: "y", data: out, access: "read_write" }],
    workgroupSize: WG,
    source: GLOBAL_AVG,
    workgroups: grid1d(n * c, WG, gpu.maxWorkgroups),
  });
  return out;
}

/**
 * Pooling over NCHW tensors: square windows with stride and zero-free padding, either the maximum or
 * the average of the in-bounds samples only (PyTorch's count_include_pad=False, which the FID Inception
 * blocks use), and the global average over all pixels. Window pools may write into a channel slice
 * of a larger output, like conv2d, so that they can form one branch of a concatenation.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { Uniforms } from "../gpu/uniforms.ts";
import { grid1d, main1d } from "./grid.ts";
import { type ChannelSlice, convOutSize } from "./conv2d.ts";

const WG = 256;

function windowSource(mode: "avg" | "max"): string {
  const init = mode === "max" ? "-3.4028235e38" : "0.0";
  const step = mode === "max" ? "acc = max(acc, v);" : "acc += v;";
  const result = mode === "max" ? "acc" : "acc / f32(count)";
  return /* wgsl */ `
struct P { n: u32, c: u32, h: u32, w: u32, oh: u32, ow: u32, k: u32, stride: u32, pad: u32, cTotal: u32, cOffset: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${main1d(WG, "i", "p.n * p.c * p.oh * p.ow")}
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
  k: number;
  stride: number;
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
  into?: ChannelSlice,
): Tensor {
  const [n, c, h, w] = x.shape;
  const oh = convOutSize(h, k, stride, pad), ow = convOutSize(w, k, stride, pad);
  const out = into?.out ?? gpu.tensor([n, c, oh, ow]);
  const cOffset = into?.cOffset ?? 0;
  const [on, cTotal, ooh, oow] = out.shape;
  if (on !== n || ooh !== oh || oow !== ow || cOffset + c > cTotal) {
    throw new Error(`pool2d: output [${out.shape}] cannot hold ${c} channels of ${oh}x${ow} at ${cOffset}`);
  }
  gpu.dispatch({
    code: windowSource(mode),
    uniforms: new Uniforms().u32(n).u32(c).u32(h).u32(w).u32(oh).u32(ow).u32(k).u32(stride).u32(pad)
      .u32(cTotal).u32(cOffset).bytes(),
    bindings: [x, out],
    workgroups: grid1d(n * c * oh * ow, WG, gpu.maxWorkgroups),
  });
  return out;
}

const GLOBAL_AVG = /* wgsl */ `
struct P { planes: u32, size: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${main1d(WG, "i", "p.planes")}
  var acc = 0.0;
  for (var j = 0u; j < p.size; j++) { acc += x[i * p.size + j]; }
  y[i] = acc / f32(p.size);
}`;

/** Global average pool: x [N, C, H, W] -> [N, C], the mean of each plane. */
export function globalAvgPool(gpu: Gpu, x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const out = gpu.tensor([n, c]);
  gpu.dispatch({
    code: GLOBAL_AVG,
    uniforms: new Uniforms().u32(n * c).u32(h * w).bytes(),
    bindings: [x, out],
    workgroups: grid1d(n * c, WG, gpu.maxWorkgroups),
  });
  return out;
}

/**
 * Batched 2-D convolution with bias and optional ReLU, as an implicit matrix product:
 *   out[n, cOffset + o, y, x] = act(bias[o] + sum_{c, i, j} w[o, c, i, j] * in[n, c, y*s - pH + i, x*s - pW + j])
 * (zero padding; rectangular kernels). Rows of the product are output channels, columns are
 * (image, pixel) pairs and the reduction runs over (c, i, j), gathered from the input on the fly.
 * Each workgroup computes a 64 x 64 tile (4 x 4 per thread) through workgroup memory. The output may
 * have more channels than the convolution (`cTotal`): it writes channels [cOffset, cOffset + cout), so
 * the branches of an Inception block write their slices of one concatenated tensor.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { Uniforms } from "../gpu/uniforms.ts";

const TM = 64, TN = 64, TK = 16;

const CONV = /* wgsl */ `
struct P {
  cin: u32, h: u32, w: u32, cout: u32, oh: u32, ow: u32, kh: u32, kw: u32,
  stride: u32, padH: u32, padW: u32, cols: u32, kdim: u32, cTotal: u32, cOffset: u32, relu: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// Tiles as vec4s: ta[k * 16 + i] holds rows 4i..4i+3 of reduction index k, tb[k * 16 + j] columns 4j..4j+3.
var<workgroup> ta: array<vec4<f32>, ${TK * 16}>;
var<workgroup> tb: array<vec4<f32>, ${TK * 16}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let tx = li % 16u;
  let ty = li / 16u;
  let row0 = wg.y * ${TM}u;
  let col0 = wg.x * ${TN}u;
  // The column this thread gathers for the B tile, decomposed once.
  let bc = li % ${TN}u;
  let col = col0 + bc;
  let colOk = col < p.cols;
  let npix = p.oh * p.ow;
  let img = col / npix;
  let pix = col % npix;
  let iy0 = i32((pix / p.ow) * p.stride) - i32(p.padH);
  let ix0 = i32((pix % p.ow) * p.stride) - i32(p.padW);
  let xBase = img * p.cin * p.h * p.w;
  let kk = p.kh * p.kw;
  // The A tile: thread loads 4 consecutive k of one row.
  let ar = li / 4u;
  let ak = (li % 4u) * 4u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.kdim; k0 += ${TK}u) {
    let r = row0 + ar;
    for (var t = 0u; t < 4u; t++) {
      let k = k0 + ak + t;
      ta[(ak + t) * 16u + ar / 4u][ar % 4u] =
        select(0.0, wt[min(r * p.kdim + k, arrayLength(&wt) - 1u)], r < p.cout && k < p.kdim);
    }
    for (var t = 0u; t < 4u; t++) {
      let kr = li / ${TN}u + t * 4u;
      let k = k0 + kr;
      var v = 0.0;
      if (colOk && k < p.kdim) {
        let c = k / kk;
        let rem = k % kk;
        let iy = iy0 + i32(rem / p.kw);
        let ix = ix0 + i32(rem % p.kw);
        if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
          v = x[xBase + (c * p.h + u32(iy)) * p.w + u32(ix)];
        }
      }
      tb[kr * 16u + bc / 4u][bc % 4u] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      let a = ta[k * 16u + ty];
      let b = tb[k * 16u + tx];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + ty * 4u + i;
    if (r >= p.cout) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + tx * 4u + j;
      if (c >= p.cols) { continue; }
      var v = accs[i][j] + bias[r];
      if (p.relu != 0u) { v = max(v, 0.0); }
      let n = c / npix;
      y[(n * p.cTotal + p.cOffset + r) * npix + c % npix] = v;
    }
  }
}`;

/** Geometry of a convolution. */
export interface Conv2dParams {
  kh: number;
  kw: number;
  stride?: number;
  padH?: number;
  padW?: number;
  relu?: boolean;
}

/** Where a convolution writes: a tensor [N, cTotal, OH, OW] and the first channel of its slice. */
export interface ChannelSlice {
  out: Tensor;
  cOffset: number;
}

/** Output spatial size of a convolution or pool along one axis. */
export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/**
 * Convolves x [N, Cin, H, W] with weight [Cout, Cin, kh, kw] (+ bias [Cout], then ReLU when asked).
 * Writes into `into` (a channel slice of a larger tensor) or returns a new [N, Cout, OH, OW] tensor.
 */
export function conv2d(
  gpu: Gpu,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  params: Conv2dParams,
  into?: ChannelSlice,
): Tensor {
  const [n, cin, h, w] = x.shape;
  const { kh, kw, stride = 1, padH = 0, padW = 0 } = params;
  const cout = weight.shape[0];
  if (weight.size !== cout * cin * kh * kw) {
    throw new Error(`conv2d: weight [${weight.shape}] for ${cin} inputs`);
  }
  const oh = convOutSize(h, kh, stride, padH), ow = convOutSize(w, kw, stride, padW);
  const out = into?.out ?? gpu.tensor([n, cout, oh, ow]);
  const cOffset = into?.cOffset ?? 0;
  const [on, cTotal, ooh, oow] = out.shape;
  if (on !== n || ooh !== oh || oow !== ow || cOffset + cout > cTotal) {
    throw new Error(
      `conv2d: output [${out.shape}] cannot hold ${cout} channels of ${oh}x${ow} at ${cOffset}`,
    );
  }
  const cols = n * oh * ow;
  if (Math.ceil(cols / TN) > gpu.maxWorkgroups) {
    throw new Error(`conv2d: ${cols} output pixels; use a smaller batch`);
  }
  gpu.dispatch({
    code: CONV,
    uniforms: new Uniforms().u32(cin).u32(h).u32(w).u32(cout).u32(oh).u32(ow).u32(kh).u32(kw)
      .u32(stride).u32(padH).u32(padW).u32(cols).u32(cin * kh * kw).u32(cTotal).u32(cOffset)
      .u32(params.relu ? 1 : 0).bytes(),
    bindings: [x, weight, bias, out],
    workgroups: [Math.ceil(cols / TN), Math.ceil(cout / TM)],
  });
  return out;
}

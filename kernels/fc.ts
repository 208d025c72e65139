/**
 * StyleGAN3's FullyConnectedLayer and the mapping network's input normalisation.
 *
 * fullyConnected: y[n, o] = act(weightGain * sum_k x[n, k] W[o, k] + biasGain * b[o]) * outScale, with
 * act = linear or bias_act's lrelu (leaky ReLU with slope 0.2, then times gain sqrt(2)). The input rows
 * may be strided (row n starts at xOffset + n * xStride), which reads one w of a [N, num_ws, w_dim] tensor.
 *
 * normalize2ndMoment: out[n, outOffset + k] = x[n, k] / sqrt(mean_k x[n, k]^2 + 1e-8), written into rows
 * of stride outStride so that z and the label embedding land side by side (torch.cat([x, y], dim=1)).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { Uniforms } from "../gpu/uniforms.ts";

const WG = 64;

const FC = /* wgsl */ `
struct P { n: u32, inF: u32, outF: u32, xStride: u32, xOffset: u32, hasBias: u32, lrelu: u32,
  weightGain: f32, biasGain: f32, outScale: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x;
  let n = gid.y;
  if (o >= p.outF || n >= p.n) { return; }
  let xb = p.xOffset + n * p.xStride;
  let wb = o * p.inF;
  var acc = 0.0;
  for (var k = 0u; k < p.inF; k++) { acc += x[xb + k] * w[wb + k]; }
  var v = acc * p.weightGain;
  if (p.hasBias != 0u) { v += b[o] * p.biasGain; }
  if (p.lrelu != 0u) { v = select(v * 0.2, v, v >= 0.0) * ${Math.SQRT2}; }
  y[n * p.outF + o] = v * p.outScale;
}`;

/** Options of {@link fullyConnected}. */
export interface FcOptions {
  bias?: Tensor | null;
  /** lr_multiplier / sqrt(in_features) in StyleGAN3's FullyConnectedLayer. */
  weightGain: number;
  /** lr_multiplier. */
  biasGain?: number;
  activation?: "linear" | "lrelu";
  /** A factor applied last (ToRGB's styles * 1/sqrt(in_channels)). */
  outScale?: number;
  /** Rows of x: n rows of `inF` values starting at xOffset with stride xStride (defaults: dense rows). */
  rows?: { n: number; xStride: number; xOffset: number };
}

/** y = act(x (W * weightGain)^T + b * biasGain) * outScale for weight W [out, in]; returns y [N, out]. */
export function fullyConnected(gpu: Gpu, x: Tensor, weight: Tensor, opts: FcOptions): Tensor {
  const [outF, inF] = weight.shape;
  const rows = opts.rows ?? { n: x.size / inF, xStride: inF, xOffset: 0 };
  if (!Number.isInteger(rows.n)) throw new Error(`fullyConnected: [${x.shape}] x [${weight.shape}]`);
  const y = gpu.tensor([rows.n, outF]);
  gpu.dispatch({
    code: FC,
    uniforms: new Uniforms().u32(rows.n).u32(inF).u32(outF).u32(rows.xStride).u32(rows.xOffset)
      .u32(opts.bias ? 1 : 0).u32(opts.activation === "lrelu" ? 1 : 0).f32(opts.weightGain)
      .f32(opts.biasGain ?? 1).f32(opts.outScale ?? 1).bytes(),
    bindings: [x, weight, opts.bias ?? weight, y],
    workgroups: [Math.ceil(outF / WG), rows.n],
  });
  return y;
}

const NORMALIZE = /* wgsl */ `
struct P { n: u32, d: u32, outStride: u32, outOffset: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> partial: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let n = wg.x;
  var s = 0.0;
  for (var k = lid.x; k < p.d; k += ${WG}u) { let v = x[n * p.d + k]; s += v * v; }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h >>= 1u) {
    if (lid.x < h) { partial[lid.x] += partial[lid.x + h]; }
    workgroupBarrier();
  }
  let scale = inverseSqrt(partial[0] / f32(p.d) + 1e-8);
  for (var k = lid.x; k < p.d; k += ${WG}u) { out[n * p.outStride + p.outOffset + k] = x[n * p.d + k] * scale; }
}`;

/**
 * Writes x [N, D] normalised to unit mean square per row into columns [outOffset, outOffset + D) of
 * `out` (rows of outStride values); returns `out` (allocated [N, D] when not given).
 */
export function normalize2ndMoment(
  gpu: Gpu,
  x: Tensor,
  out?: { tensor: Tensor; stride: number; offset: number },
): Tensor {
  const [n, d] = x.shape;
  const target = out ?? { tensor: gpu.tensor([n, d]), stride: d, offset: 0 };
  gpu.dispatch({
    code: NORMALIZE,
    uniforms: new Uniforms().u32(n).u32(d).u32(target.stride).u32(target.offset).bytes(),
    bindings: [x, target.tensor],
    workgroups: [n],
  });
  return target.tensor;
}

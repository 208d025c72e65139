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
import { runProgram } from "../gpu/program.ts";

const WG = 64;

const FC = /* wgsl */ `
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
  /** Bias [outF], times `biasGain`; none when absent. */
  bias?: Tensor | null;
  /** lr_multiplier / sqrt(in_features) in StyleGAN3's FullyConnectedLayer. */
  weightGain: number;
  /** lr_multiplier. */
  biasGain?: number;
  /** "linear" (default) or leaky ReLU with slope 0.2 times sqrt(2). */
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
  runProgram(gpu, {
    name: "fully_connected",
    params: {
      n: ["u32", rows.n],
      inF: ["u32", inF],
      outF: ["u32", outF],
      xStride: ["u32", rows.xStride],
      xOffset: ["u32", rows.xOffset],
      hasBias: ["u32", opts.bias ? 1 : 0],
      lrelu: ["u32", opts.activation === "lrelu" ? 1 : 0],
      weightGain: ["f32", opts.weightGain],
      biasGain: ["f32", opts.biasGain ?? 1],
      outScale: ["f32", opts.outScale ?? 1],
    },
    buffers: [
      { name: "x", data: x },
      { name: "w", data: weight },
      { name: "b", data: opts.bias ?? weight },
      { name: "y", data: y, access: "read_write" },
    ],
    workgroupSize: WG,
    source: FC,
    workgroups: [Math.ceil(outF / WG), rows.n],
  });
  return y;
}

const NORMALIZE = /* wgsl */ `
var<workgroup> partial: array<f32, ${WG}>;
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
  runProgram(gpu, {
    name: "normalize_2nd_moment",
    params: {
      n: ["u32", n],
      d: ["u32", d],
      outStride: ["u32", target.stride],
      outOffset: ["u32", target.offset],
    },
    buffers: [{ name: "x", data: x }, { name: "out", data: target.tensor, access: "read_write" }],
    workgroupSize: WG,
    source: NORMALIZE,
    workgroups: [n],
  });
  return target.tensor;
}

/**
 * StyleGAN3's modulated_conv2d with the styles folded into the activations, so that one shared weight
 * serves the whole batch in one dispatch:
 *
 *   w'[o]     = w[o] / sqrt(mean_{i,ky,kx} w[o]^2)            (demodulate only; done once on the host)
 *   s'[n]     = s[n] / sqrt(mean_i s[n, i]^2)                  (demodulate only)
 *   d[n, o]   = 1 / sqrt(sum_i s'[n, i]^2 sum_{ky,kx} w'[o, i]^2 + 1e-8)   (demodulate; else 1)
 *   y[n, o]   = d[n, o] * sum_{i,ky,kx} w'[o, i, ky, kx] * (x[n, i] * s'[n, i] * input_gain)[shifted]
 *
 * which equals conv2d(x, w' * s' * d * input_gain, padding) per sample. The convolution is
 * kernels/conv_gemm.ts with the per-sample input factors s' * input_gain and output factors d.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import {
  convGemm,
  type ConvGemmOptions,
  type ConvVariant,
  type ConvWeight,
  packConvWeight,
} from "./conv_gemm.ts";

/** A convolution weight prepared for {@link modulatedConv2d}. */
export interface ModConvWeight {
  /** [O, I, k, k], packed; pre-normalised per output channel when demodulating. */
  weight: ConvWeight;
  /** [O, I]: sum over the kernel taps of weight^2 (demodulation only). */
  wsq: Tensor | null;
  /** Whether outputs are divided by their style-weighted weight norm (all layers but ToRGB). */
  demodulate: boolean;
}

/** Uploads a conv weight [O, I, k, k], normalising it (in float64) when it will be demodulated. */
export function prepareModConvWeight(
  gpu: Gpu,
  w: Float32Array,
  shape: readonly number[],
  demodulate: boolean,
): ModConvWeight {
  const [o, i, kh, kw] = shape;
  const taps = i * kh * kw;
  if (!demodulate) return { weight: packConvWeight(gpu, w, shape), wsq: null, demodulate };
  const wn = new Float32Array(w.length);
  const wsq = new Float32Array(o * i);
  for (let a = 0; a < o; a++) {
    let ms = 0;
    for (let t = 0; t < taps; t++) ms += w[a * taps + t] ** 2;
    const scale = 1 / Math.sqrt(ms / taps);
    for (let t = 0; t < taps; t++) wn[a * taps + t] = w[a * taps + t] * scale;
    for (let b = 0; b < i; b++) {
      let s = 0;
      for (let t = 0; t < kh * kw; t++) s += wn[a * taps + b * kh * kw + t] ** 2;
      wsq[a * i + b] = s;
    }
  }
  return { weight: packConvWeight(gpu, wn, shape), wsq: gpu.upload(wsq, [o, i]), demodulate };
}

const SWG = 256;

function coefSource(demodulate: boolean): string {
  return /* wgsl */ `
var<workgroup> partial: array<f32, ${SWG}>;
var<workgroup> s2: array<f32, 1024>;
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let n = wg.x;
  let sb = n * p.i;
  var norm = 1.0;
  ${
    demodulate
      ? `var acc = 0.0;
  for (var k = lid.x; k < p.i; k += ${SWG}u) { let v = s[sb + k]; acc += v * v; }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var h = ${SWG / 2}u; h > 0u; h >>= 1u) {
    if (lid.x < h) { partial[lid.x] += partial[lid.x + h]; }
    workgroupBarrier();
  }
  norm = inverseSqrt(partial[0] / f32(p.i));`
      : ""
  }
  for (var k = lid.x; k < p.i; k += ${SWG}u) { scale[sb + k] = s[sb + k] * norm * p.gain; }
  ${
    demodulate
      ? `for (var i0 = 0u; i0 < p.i; i0 += 1024u) {
    workgroupBarrier();
    for (var k = lid.x; k < 1024u && i0 + k < p.i; k += ${SWG}u) { let v = s[sb + i0 + k] * norm; s2[k] = v * v; }
    workgroupBarrier();
    let m = min(1024u, p.i - i0);
    for (var o = lid.x; o < p.o; o += ${SWG}u) {
      var d = select(0.0, dcoef[n * p.o + o], i0 > 0u);
      for (var k = 0u; k < m; k++) { d += s2[k] * wsq[o * p.i + i0 + k]; }
      dcoef[n * p.o + o] = d;
    }
  }
  for (var o = lid.x; o < p.o; o += ${SWG}u) { dcoef[n * p.o + o] = inverseSqrt(dcoef[n * p.o + o] + 1e-8); }`
      : ""
  }
}`;
}

const placeholders = new WeakMap<Gpu, Tensor>();

/** A 4-byte tensor per device, bound where a kernel declares a writable buffer that it does not use. */
function placeholder(gpu: Gpu): Tensor {
  let t = placeholders.get(gpu);
  if (!t) placeholders.set(gpu, t = gpu.tensor([1]));
  return t;
}

/**
 * Per-sample factors of the folded modulation: scale[n, i] = s'[n, i] * inputGain and, when
 * demodulating, dcoef[n, o]. styles [N, I]; returns { scale [N, I], dcoef [N, O] | null }.
 */
export function modulationCoefficients(
  gpu: Gpu,
  styles: Tensor,
  w: ModConvWeight,
  inputGain: number,
): { scale: Tensor; dcoef: Tensor | null } {
  const [n, i] = styles.shape;
  const o = w.weight.cout;
  const scale = gpu.tensor([n, i]);
  const dcoef = w.demodulate ? gpu.tensor([n, o]) : null;
  runProgram(gpu, {
    name: w.demodulate ? "modulation_demodulate" : "modulation",
    params: { n: ["u32", n], i: ["u32", i], o: ["u32", o], gain: ["f32", inputGain] },
    buffers: [
      { name: "s", data: styles },
      { name: "wsq", data: w.wsq ?? styles },
      { name: "scale", data: scale, access: "read_write" },
      // Without demodulation dcoef is unused; a placeholder, not `scale` again: WebGPU forbids binding one
      // buffer range twice as writable (browsers validate it).
      { name: "dcoef", data: dcoef ?? placeholder(gpu), access: "read_write" },
    ],
    workgroupSize: SWG,
    source: coefSource(w.demodulate),
    workgroups: [n],
  });
  return { scale, dcoef };
}

/** Options of {@link modulatedConv2d}. */
export interface ModConvOptions {
  /** input_gain = magnitude_ema^-1/2 (StyleGAN3), a scalar. */
  inputGain: number;
  /** Zero padding on every side (StyleGAN3 uses kernel size - 1). */
  padding: number;
  /** Element type of the output tensor (default f32). */
  outDtype?: DType;
  /** The convolution's tile (default: the tuned or default one). */
  variant?: ConvVariant;
  /** bias_act fused into the convolution (StyleGAN2's layers), and where the result goes. */
  epilogue?: Pick<ConvGemmOptions, "bias" | "act" | "gain" | "clamp" | "noise" | "accumulate" | "into">;
}

/** modulated_conv2d(x, w, styles [N, I], demodulate, padding, input_gain) of networks_stylegan3.py. */
export function modulatedConv2d(
  gpu: Gpu,
  x: Tensor,
  w: ModConvWeight,
  styles: Tensor,
  opts: ModConvOptions,
): Tensor {
  const { scale, dcoef } = modulationCoefficients(gpu, styles, w, opts.inputGain);
  const y = convGemm(gpu, x, w.weight, {
    padH: opts.padding,
    padW: opts.padding,
    scale,
    dcoef,
    outDtype: opts.outDtype,
    variant: opts.variant,
    ...opts.epilogue,
  });
  gpu.release(scale, dcoef);
  return y;
}

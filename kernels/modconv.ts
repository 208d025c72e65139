/**
 * StyleGAN3's modulated_conv2d with the styles folded into the activations, so that one shared weight
 * serves the whole batch in one dispatch:
 *
 *   w'[o]     = w[o] / sqrt(mean_{i,ky,kx} w[o]^2)            (demodulate only; done once on the host)
 *   s'[n]     = s[n] / sqrt(mean_i s[n, i]^2)                  (demodulate only)
 *   d[n, o]   = 1 / sqrt(sum_i s'[n, i]^2 sum_{ky,kx} w'[o, i]^2 + 1e-8)   (demodulate; else 1)
 *   y[n, o]   = d[n, o] * sum_{i,ky,kx} w'[o, i, ky, kx] * (x[n, i] * s'[n, i] * input_gain)[shifted]
 *
 * which equals conv2d(x, w' * s' * d * input_gain, padding) per sample. The convolution is a direct
 * convolution tiled through workgroup memory: each workgroup computes TO output channels x (TY x TX)
 * pixels of one sample, looping over input channels in chunks of CI.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { Uniforms } from "../gpu/uniforms.ts";
import { chunkedAccess, chunkRanges, enableF16, sampleRuns, wgslType } from "./batch.ts";

/** A convolution weight prepared for {@link modulatedConv2d}. */
export interface ModConvWeight {
  /** [O, I, k, k]; pre-normalised per output channel when demodulating. */
  weight: Tensor;
  /** [O, I]: sum over the kernel taps of weight^2 (demodulation only). */
  wsq: Tensor | null;
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
  if (!demodulate) return { weight: gpu.upload(w, shape), wsq: null, demodulate };
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
  return { weight: gpu.upload(wn, shape), wsq: gpu.upload(wsq, [o, i]), demodulate };
}

const SWG = 256;

function coefSource(demodulate: boolean): string {
  return /* wgsl */ `
struct P { n: u32, i: u32, o: u32, gain: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> wsq: array<f32>;
@group(0) @binding(3) var<storage, read_write> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> dcoef: array<f32>;
var<workgroup> partial: array<f32, ${SWG}>;
var<workgroup> s2: array<f32, 1024>;
@compute @workgroup_size(${SWG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  // Bindings stay in the layout even when this variant does not demodulate.
  _ = wsq[0];
  _ = dcoef[0];
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
  const o = w.weight.shape[0];
  const scale = gpu.tensor([n, i]);
  const dcoef = w.demodulate ? gpu.tensor([n, o]) : null;
  gpu.dispatch({
    code: coefSource(w.demodulate),
    uniforms: new Uniforms().u32(n).u32(i).u32(o).f32(inputGain).bytes(),
    bindings: [styles, w.wsq ?? styles, scale, dcoef ?? scale],
    workgroups: [n],
  });
  return { scale, dcoef };
}

/**
 * Tiling of the direct convolution: a workgroup of 256 threads computes TO output channels x (TY x TX)
 * pixels; each thread QO channels x QP consecutive pixels of one row; CI input channels per step.
 */
interface ConvTile {
  to: number;
  ty: number;
  tx: number;
  qo: number;
  qp: number;
  ci: number;
}

/** The larger register tile for layers with many output channels and wide images, else the smaller. */
function convTile(gpu: Gpu, k: number, co: number, wo: number): ConvTile {
  const base = co >= 64 && wo >= 24
    ? { to: 64, ty: 8, tx: 32, qo: 8, qp: 8 }
    : { to: 32, ty: 8, tx: 16, qo: 4, qp: 4 };
  const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;
  const bytes = (ci: number) => ci * ((base.ty + k - 1) * (base.tx + k - 1) + k * k * base.to) * 4;
  const ci = [16, 8, 4, 2, 1].find((c) => bytes(c) <= limit);
  if (!ci) throw new Error(`conv2d: a ${k}x${k} kernel does not fit workgroup memory`);
  return { ...base, ci };
}

interface ConvVariant {
  k: number;
  tile: ConvTile;
  f16: string;
  useScale: boolean;
  useD: boolean;
  x: { n: number; elems: number; type: string };
  y: { n: number; elems: number; type: string };
}

function convSource(v: ConvVariant): string {
  const { k, f16, useScale, useD } = v;
  const { to: TO, ty: TY, tx: TX, qo: QO, qp: QP, ci: CI } = v.tile;
  const XW = TX + k - 1, XH = TY + k - 1, R = QP + k - 1, GX = TX / QP, K2 = k * k;
  const qs = Array.from({ length: QO }, (_, i) => i), js = Array.from({ length: QP }, (_, i) => i);
  // Register tiles are unrolled into scalars: private arrays indexed in loops can spill to memory.
  const declareAcc = qs.map((q) => `  ${js.map((j) => `var a${q}_${j} = 0.0;`).join(" ")}`).join("\n");
  const inner: string[] = [];
  for (let ky = 0; ky < k; ky++) {
    inner.push(`      let rb${ky} = (c * ${XH}u + py + ${ky}u) * ${XW}u + px;`);
    for (let j = 0; j < R; j++) inner.push(`      let r${ky}_${j} = xs[rb${ky} + ${j}u];`);
    for (let kx = 0; kx < k; kx++) {
      const wb = `((c * ${K2}u + ${ky * k + kx}u) * ${TO}u + og * ${QO}u) / 4u`;
      for (let q4 = 0; q4 < QO / 4; q4++) {
        inner.push(`      { let w4 = ws[${wb} + ${q4}u];`);
        for (let e = 0; e < 4; e++) {
          const q = q4 * 4 + e;
          inner.push(`        ${js.map((j) => `a${q}_${j} += w4[${e}] * r${ky}_${j + kx};`).join(" ")}`);
        }
        inner.push(`      }`);
      }
    }
  }
  const store = qs.map((q) =>
    `  {
    let o = o0 + og * ${QO}u + ${q}u;
    if (o < p.co) {
      let d = ${useD ? "dcoef[n * p.co + o]" : "1.0"};
      let yb = ((nl * p.co + o) * p.ho + oy) * p.wo + tx0 + px;
${js.map((j) => `      if (tx0 + px + ${j}u < p.wo) { st_y(yb + ${j}u, a${q}_${j} * d); }`).join("\n")}
    }
  }`
  ).join("\n");
  return /* wgsl */ `${f16}
struct P { n0: u32, ci: u32, co: u32, h: u32, w: u32, ho: u32, wo: u32, pad: u32, tilesX: u32 }
@group(0) @binding(0) var<uniform> p: P;
${chunkedAccess("x", 1, v.x.n, v.x.elems, v.x.type, false)}
@group(0) @binding(${v.x.n + 1}) var<storage, read> wt: array<f32>;
@group(0) @binding(${v.x.n + 2}) var<storage, read> scale: array<f32>;
@group(0) @binding(${v.x.n + 3}) var<storage, read> dcoef: array<f32>;
${chunkedAccess("y", v.x.n + 4, v.y.n, v.y.elems, v.y.type, true)}
var<workgroup> xs: array<f32, ${CI * XH * XW}>;
var<workgroup> ws: array<vec4f, ${(CI * K2 * TO) / 4}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  _ = scale[0];
  _ = dcoef[0];
  let t = lid.x;
  let ty0 = (wg.x / p.tilesX) * ${TY}u;
  let tx0 = (wg.x % p.tilesX) * ${TX}u;
  let o0 = wg.y * ${TO}u;
  let nl = wg.z;
  let n = p.n0 + nl;
  let og = t / 32u;
  let py = (t % 32u) / ${GX}u;
  let px = (t % ${GX}u) * ${QP}u;
${declareAcc}
  let hw = p.h * p.w;
  for (var c0 = 0u; c0 < p.ci; c0 += ${CI}u) {
    for (var e = t; e < ${CI * XH * XW}u; e += 256u) {
      let c = e / ${XH * XW}u;
      let r = (e / ${XW}u) % ${XH}u;
      let q = e % ${XW}u;
      let iy = i32(ty0 + r) - i32(p.pad);
      let ix = i32(tx0 + q) - i32(p.pad);
      var v = 0.0;
      if (c0 + c < p.ci && iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
        v = ld_x((nl * p.ci + c0 + c) * hw + u32(iy) * p.w + u32(ix))${
    useScale ? " * scale[n * p.ci + c0 + c]" : ""
  };
      }
      xs[e] = v;
    }
    // Consecutive threads read consecutive weights: [o][c][tap] in memory, [c][tap][o] in ws.
    for (var e = t; e < ${CI * K2 * TO}u; e += 256u) {
      let o = e / ${CI * K2}u;
      let rem = e % ${CI * K2}u;
      let c = rem / ${K2}u;
      var v = 0.0;
      if (c0 + c < p.ci && o0 + o < p.co) { v = wt[((o0 + o) * p.ci + c0) * ${K2}u + rem]; }
      let i = rem * ${TO}u + o;
      ws[i / 4u][i % 4u] = v;
    }
    workgroupBarrier();
    for (var c = 0u; c < ${CI}u; c++) {
${inner.join("\n")}
    }
    workgroupBarrier();
  }
  let oy = ty0 + py;
  if (oy >= p.ho) { return; }
${store}
}`;
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Zero padding on every side. */
  padding: number;
  /** Per-sample input channel factors [N, I] (the folded styles). */
  scale?: Tensor | null;
  /** Per-sample output channel factors [N, O] (the demodulation coefficients). */
  dcoef?: Tensor | null;
  outDtype?: DType;
}

/**
 * y[n, o] = dcoef[n, o] * sum_{i,ky,kx} w[o, i, ky, kx] * scale[n, i] * x[n, i, y + ky - pad, x + kx - pad]
 * (cross-correlation as torch's conv2d) for x [N, I, H, W] (f32 or f16) and a square kernel; returns
 * y [N, O, H + 2 pad - k + 1, W + 2 pad - k + 1]. Batches larger than one binding run in pieces.
 */
export function conv2d(gpu: Gpu, x: Tensor, weight: Tensor, opts: Conv2dOptions): Tensor {
  const [n, ci, h, w] = x.shape;
  const [co, wci, k] = weight.shape;
  if (wci !== ci || weight.shape[3] !== k) {
    throw new Error(`conv2d: x [${x.shape}], weight [${weight.shape}]`);
  }
  const ho = h + 2 * opts.padding - k + 1, wo = w + 2 * opts.padding - k + 1;
  const y = gpu.tensor([n, co, ho, wo], opts.outDtype ?? "f32");
  const tile = convTile(gpu, k, co, wo);
  const tilesX = Math.ceil(wo / tile.tx);
  for (const [first, count] of sampleRuns(gpu, n, [x, y])) {
    const xs = chunkRanges(gpu, x, n, first, count), ys = chunkRanges(gpu, y, n, first, count);
    const code = convSource({
      k,
      tile,
      f16: enableF16(x, y),
      useScale: !!opts.scale,
      useD: !!opts.dcoef,
      x: { n: xs.ranges.length, elems: xs.elems, type: wgslType(x) },
      y: { n: ys.ranges.length, elems: ys.elems, type: wgslType(y) },
    });
    gpu.dispatch({
      code,
      uniforms: new Uniforms().u32(first).u32(ci).u32(co).u32(h).u32(w).u32(ho).u32(wo).u32(opts.padding)
        .u32(tilesX).bytes(),
      bindings: [...xs.ranges, weight, opts.scale ?? weight, opts.dcoef ?? weight, ...ys.ranges],
      workgroups: [tilesX * Math.ceil(ho / tile.ty), Math.ceil(co / tile.to), count],
    });
  }
  return y;
}

/** Options of {@link modulatedConv2d}. */
export interface ModConvOptions {
  /** input_gain = magnitude_ema^-1/2 (StyleGAN3), a scalar. */
  inputGain: number;
  /** Zero padding on every side (StyleGAN3 uses kernel size - 1). */
  padding: number;
  outDtype?: DType;
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
  const y = conv2d(gpu, x, w.weight, { padding: opts.padding, scale, dcoef, outDtype: opts.outDtype });
  // Buffers may be destroyed once the work using them is submitted.
  gpu.flush();
  scale.destroy();
  dcoef?.destroy();
  return y;
}

/**
 * Image input for the Inception detectors: uint8 HWC images to float NCHW, and separable resampling
 * to 299x299 as each FID implementation does it. Every resize here is a separable linear map, so it is
 * described by per-axis tables (first source index and tap weights per output index, computed in
 * float64 on the host) and run as two GPU passes, the width axis first (as PIL does), with an optional
 * clamp and affine map applied to the result of the second pass; an axis kept at its size needs no pass.
 *
 * Methods (source coordinate of output index d, for in -> out samples):
 * - "tf1-bilinear": TensorFlow 1 resize_bilinear without half-pixel centres, as NVIDIA's detector
 *   (its grid_sample with the shifted affine grid reduces to the same map): s = d * (in / out) in float32,
 *   neighbours floor(s) and min(floor(s) + 1, in - 1).
 * - "torch-bilinear": torch F.interpolate(mode="bilinear", align_corners=False) as pytorch-fid:
 *   s = max(0, (d + 0.5) * (in / out) - 0.5) in float32, no antialiasing.
 * - "pil-bicubic": PIL's Image.resize(BICUBIC) on mode "F" images as clean-fid: Keys cubic (a = -0.5)
 *   with support scaled by max(in / out, 1) (antialiasing when shrinking), weights normalised to sum 1.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";

/** A resampling method; see the module documentation. */
export type ResizeMethod = "tf1-bilinear" | "torch-bilinear" | "pil-bicubic";

/** Per-axis resampling table: out[d] = sum_t weights[d * taps + t] * in[min(start[d] + t, in - 1)]. */
export interface ResampleTable {
  /** Input length along the axis. */
  inSize: number;
  /** Output length along the axis. */
  outSize: number;
  /** Weights per output sample (trailing ones may be 0). */
  taps: number;
  /** [outSize]: the first input index of each output sample (indices past the end read the last sample). */
  start: Int32Array;
  /** [outSize, taps]: the weights, row-major. */
  weights: Float64Array;
}

function table(
  inSize: number,
  outSize: number,
  taps: number,
  fill: (d: number, w: number[]) => number,
): ResampleTable {
  const start = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  const w: number[] = [];
  for (let d = 0; d < outSize; d++) {
    w.length = 0;
    start[d] = fill(d, w);
    for (let t = 0; t < w.length; t++) weights[d * taps + t] = w[t];
  }
  return { inSize, outSize, taps, start, weights };
}

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** The resampling table of `method` for one axis. */
export function resampleTable(method: ResizeMethod, inSize: number, outSize: number): ResampleTable {
  const f = Math.fround;
  if (method === "tf1-bilinear") {
    const scale = f(inSize / outSize);
    return table(inSize, outSize, 2, (d, w) => {
      const s = f(d * scale);
      const i0 = Math.floor(s);
      const frac = f(s - i0);
      if (i0 + 1 > inSize - 1) w.push(1, 0);
      else w.push(f(1 - frac), frac);
      return i0;
    });
  }
  if (method === "torch-bilinear") {
    const scale = f(inSize / outSize);
    return table(inSize, outSize, 2, (d, w) => {
      const s = Math.max(0, f(f(scale * f(d + 0.5)) - 0.5));
      const i0 = Math.trunc(s);
      const l1 = f(s - i0);
      if (i0 < inSize - 1) w.push(f(1 - l1), l1);
      else w.push(1, 0);
      return i0;
    });
  }
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  return table(inSize, outSize, taps, (d, w) => {
    const center = (d + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5));
    let sum = 0;
    for (let x = xmin; x < xmax; x++) {
      const v = bicubic((x - center + 0.5) / filterScale);
      w.push(v);
      sum += v;
    }
    if (sum !== 0) { for (let t = 0; t < w.length; t++) w[t] /= sum; }
    return xmin;
  });
}

const WG = 256;

const TO_NCHW = /* wgsl */ `
${main1d("i", "p.n * 3u * p.h * p.w")}
  let hw = p.h * p.w;
  let pix = i % hw;
  let ch = (i / hw) % 3u;
  let img = i / (3u * hw);
  // Grey images are repeated to three channels, as the official metric code does.
  let byte = (img * hw + pix) * p.c + select(ch, 0u, p.c == 1u);
  out[i] = f32((src[byte / 4u] >> ((byte % 4u) * 8u)) & 255u);
}`;

/**
 * Uploads `n` uint8 images (HWC, `c` = 1 or 3 channels) and converts them to float NCHW [n, 3, h, w]
 * in 0..255; grey images are repeated to three channels.
 */
export function imagesToNCHW(
  gpu: Gpu,
  bytes: Uint8Array,
  n: number,
  h: number,
  w: number,
  c: number,
): Tensor {
  if (bytes.length !== n * h * w * c) {
    throw new Error(`imagesToNCHW: ${bytes.length} bytes for ${n}x${h}x${w}x${c}`);
  }
  const packed = new Uint32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(packed.buffer).set(bytes);
  const src = gpu.tensor([packed.length]);
  gpu.write(src.buffer, 0, packed);
  const out = gpu.tensor([n, 3, h, w]);
  runProgram(gpu, {
    name: "images_to_nchw",
    params: { n: ["u32", n], h: ["u32", h], w: ["u32", w], c: ["u32", c] },
    buffers: [
      { name: "src", data: src, type: "u32" },
      { name: "out", data: out, access: "read_write" },
    ],
    workgroupSize: WG,
    source: TO_NCHW,
    workgroups: grid1d(n * 3 * h * w, WG, gpu.maxWorkgroups),
  });
  gpu.release(src);
  return out;
}

const QUANTIZE = /* wgsl */ `
${main1d("i", "p.n * 3u * p.hw")}
  let pix = i % p.hw;
  let ch = (i / p.hw) % 3u;
  let img = i / (3u * p.hw);
  let v = x[(img * p.c + select(ch, 0u, p.c == 1u)) * p.hw + pix];
  out[i] = trunc(clamp(v * 127.5 + 128.0, 0.0, 255.0));
}`;

/**
 * Generator output [n, c, h, w] (float, about [-1, 1]) to the uint8 values the official metrics feed the
 * detector, (x * 127.5 + 128).clamp(0, 255) truncated, as float NCHW [n, 3, h, w] (grey repeated).
 */
export function quantizeImages(gpu: Gpu, x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const out = gpu.tensor([n, 3, h, w]);
  runProgram(gpu, {
    name: "quantize_images",
    params: { n: ["u32", n], c: ["u32", c], hw: ["u32", h * w] },
    buffers: [{ name: "x", data: x }, { name: "out", data: out, access: "read_write" }],
    workgroupSize: WG,
    source: QUANTIZE,
    workgroups: grid1d(n * 3 * h * w, WG, gpu.maxWorkgroups),
  });
  return out;
}

const RESAMPLE = /* wgsl */ `
${main1d("i", "p.outer * p.lenOut * p.inner")}
  let k = i % p.inner;
  let d = (i / p.inner) % p.lenOut;
  let o = i / (p.inner * p.lenOut);
  let s0 = start[d];
  var acc = 0.0;
  for (var t = 0u; t < p.taps; t++) {
    let s = u32(min(s0 + i32(t), i32(p.lenIn) - 1));
    acc += weights[d * p.taps + t] * x[(o * p.lenIn + s) * p.inner + k];
  }
  y[i] = p.a * clamp(acc, p.lo, p.hi) + p.b;
}`;

/** Clamp then affine map applied after resampling: out = a * clamp(v, lo, hi) + b. */
export interface ResamplePost {
  /** Lower clamp bound (default none). */
  lo?: number;
  /** Upper clamp bound (default none). */
  hi?: number;
  /** Scale (default 1). */
  a?: number;
  /** Offset (default 0). */
  b?: number;
}

/**
 * Resamples axis `axis` (2 = height, 3 = width) of an NCHW tensor with `t`; returns a new tensor.
 */
export function resampleAxis(
  gpu: Gpu,
  x: Tensor,
  axis: 2 | 3,
  t: ResampleTable,
  post: ResamplePost = {},
): Tensor {
  const [n, c, h, w] = x.shape;
  if ((axis === 2 ? h : w) !== t.inSize) {
    throw new Error(`resampleAxis: axis size ${x.shape[axis]} != ${t.inSize}`);
  }
  const shape = axis === 2 ? [n, c, t.outSize, w] : [n, c, h, t.outSize];
  const outer = axis === 2 ? n * c : n * c * h;
  const inner = axis === 2 ? w : 1;
  const y = gpu.tensor(shape);
  const start = gpu.tensor([t.outSize]);
  gpu.write(start.buffer, 0, t.start);
  const weights = gpu.upload(Float32Array.from(t.weights), [t.weights.length]);
  runProgram(gpu, {
    name: "resample_axis",
    params: {
      outer: ["u32", outer],
      lenIn: ["u32", t.inSize],
      lenOut: ["u32", t.outSize],
      inner: ["u32", inner],
      taps: ["u32", t.taps],
      lo: ["f32", post.lo ?? -3.4e38],
      hi: ["f32", post.hi ?? 3.4e38],
      a: ["f32", post.a ?? 1],
      b: ["f32", post.b ?? 0],
    },
    buffers: [
      { name: "x", data: x },
      { name: "start", data: start, type: "i32" },
      { name: "weights", data: weights },
      { name: "y", data: y, access: "read_write" },
    ],
    workgroupSize: WG,
    source: RESAMPLE,
    workgroups: grid1d(outer * t.outSize * inner, WG, gpu.maxWorkgroups),
  });
  gpu.release(start, weights);
  return y;
}

/**
 * Whether table `t` maps every sample to itself: the same length, and each output's weights 1 on its own input
 * sample and 0 on every other. Every method's table at the same size is one (bilinear at scale 1 samples at the
 * input indices; the bicubic kernel is 1 at 0 and 0 at the other integers), so resampling 299-px images to 299
 * px changes nothing but the post map.
 */
export function isIdentity(t: ResampleTable): boolean {
  if (t.inSize !== t.outSize) return false;
  for (let d = 0; d < t.outSize; d++) {
    let own = 0;
    for (let k = 0; k < t.taps; k++) {
      const w = t.weights[d * t.taps + k];
      if (Math.min(t.start[d] + k, t.inSize - 1) === d) own += w;
      else if (w !== 0) return false;
    }
    if (own !== 1) return false;
  }
  return true;
}

/**
 * Resizes NCHW float images to outH x outW with `method` (width pass first, then height), then applies
 * `post` to the result. An axis whose table is the identity ({@link isIdentity}) gets no pass, which gives the
 * same values (1 x v + 0 x the finite neighbours); the last pass left applies `post` (the height pass when both
 * are identities).
 */
export function resize(
  gpu: Gpu,
  x: Tensor,
  method: ResizeMethod,
  outH: number,
  outW: number,
  post: ResamplePost = {},
): Tensor {
  const [, , h, w] = x.shape;
  const byWidth = resampleTable(method, w, outW), byHeight = resampleTable(method, h, outH);
  if (isIdentity(byWidth)) return resampleAxis(gpu, x, 2, byHeight, post);
  if (isIdentity(byHeight)) return resampleAxis(gpu, x, 3, byWidth, post);
  const tmp = resampleAxis(gpu, x, 3, byWidth);
  const y = resampleAxis(gpu, tmp, 2, byHeight, post);
  gpu.release(tmp);
  return y;
}

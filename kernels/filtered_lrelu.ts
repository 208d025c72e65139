/**
 * StyleGAN3's filtered leaky ReLU, fused: the semantics of `_filtered_lrelu_ref` (flip_filter=False):
 *
 *   y = x + b[c]
 *   u = upfirdn2d(y, fu, up, padding=[px0, px1, py0, py1], gain=up^2)   (zero-stuff, pad/crop, convolve)
 *   z = clamp(leaky_relu(u, slope) * gain, -clamp, clamp)
 *   out = upfirdn2d(z, fd, down) * outScale                            (convolve, keep every down-th)
 *
 * Filters are separable 1-D (applied along x, then y, as the reference does) or full 2-D (radial).
 * Each workgroup computes one TILE x TILE output tile of one (sample, channel): it loads the input patch,
 * upsamples it polyphase (only the taps that meet non-zero samples) into workgroup memory, applies the
 * activation there, and filters down; the zero-stuffed and the upsampled images never reach memory.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { Uniforms } from "../gpu/uniforms.ts";
import { chunkedAccess, chunkRanges, enableF16, sampleRuns, wgslType } from "./batch.ts";

/** An FIR filter on the GPU, flipped (so the kernels correlate) and scaled. */
export interface FirFilter {
  tensor: Tensor;
  taps: number;
  /** A full 2-D [taps, taps] filter, else separable 1-D. */
  full: boolean;
}

/**
 * Uploads filter f (1-D [taps] or 2-D [taps, taps]; null = identity) flipped along each axis and times
 * gain^(ndim / 2), as upfirdn2d's reference sets it up.
 */
export function prepareFilter(
  gpu: Gpu,
  f: Float32Array | null,
  shape: readonly number[] | null,
  gain = 1,
): FirFilter {
  if (!f || !shape) return { tensor: gpu.upload(new Float32Array([gain]), [1]), taps: 1, full: false };
  const full = shape.length === 2;
  const g = Math.fround(gain ** (shape.length / 2));
  const flipped = new Float32Array(f.length).map((_, i) => f[f.length - 1 - i] * g);
  if (full && shape[0] !== shape[1]) {
    throw new Error(`prepareFilter: square 2-D filters only, got [${shape}]`);
  }
  return { tensor: gpu.upload(flipped, shape), taps: shape[shape.length - 1], full };
}

/** Options of {@link filteredLrelu}. */
export interface FilteredLreluOptions {
  up: number;
  down: number;
  /** [px0, px1, py0, py1]; negative values crop. */
  padding: [number, number, number, number];
  gain: number;
  slope: number;
  /** Clamp bound; null = none. */
  clamp: number | null;
  /** Factor applied to the output (the synthesis network's output_scale on its last layer). */
  outScale?: number;
  outDtype?: DType;
}

interface Layout {
  tile: number;
  uw: number;
  xw: number;
  a: number;
  b: number;
}

function layout(tile: number, up: number, down: number, fu: FirFilter, fd: FirFilter): Layout {
  const uw = (tile - 1) * down + fd.taps;
  const xw = Math.floor((uw + fu.taps - 2) / up) + 1;
  const zInA = !fu.full;
  const d1 = fd.full ? 0 : uw * tile;
  const a = Math.max(xw * xw, zInA ? uw * uw : d1);
  const b = Math.max(fu.full ? uw * uw : xw * uw, zInA ? d1 : 0);
  return { tile, uw, xw, a, b };
}

/** Outputs per thread of the full 2-D down filter: neighbours along x share most of their taps' rows. */
const FULL_DOWN_QX = 4;

/**
 * The full (radial) down filter: each thread computes FULL_DOWN_QX adjacent outputs of one row, reading
 * each row of Z it needs once into registers (unrolled), so that a tap costs one load per 4 outputs.
 */
function fullDown(T: number, UW: number, KD: number, down: number, Z: string): string {
  const Q = FULL_DOWN_QX;
  const qs = Array.from({ length: Q }, (_, i) => i);
  const R = (Q - 1) * down + KD;
  const taps = Array.from(
    { length: KD },
    (_, b) => `      { let f = fd[fb + ${b}]; ${qs.map((q) => `a${q} += f * r${q * down + b};`).join(" ")} }`,
  );
  return /* wgsl */ `
  if (t < ${(T * T) / Q}) {
    let oyl = t / ${T / Q};
    let oxl = (t % ${T / Q}) * ${Q};
    ${qs.map((q) => `var a${q} = 0.0;`).join(" ")}
    for (var a = 0; a < ${KD}; a++) {
      let zb = (oyl * ${down} + a) * ${UW} + oxl * ${down};
      let fb = a * ${KD};
${Array.from({ length: R }, (_, j) => `      let r${j} = ${Z}[zb + ${j}];`).join("\n")}
${taps.join("\n")}
    }
${qs.map((q) => `    store(u32(oyl), u32(oxl + ${q}), a${q});`).join("\n")}
  }`;
}

function source(
  l: Layout,
  up: number,
  down: number,
  fu: FirFilter,
  fd: FirFilter,
  xb: { n: number; elems: number; type: string },
  yb: { n: number; elems: number; type: string },
  f16: string,
  clamp: boolean,
): string {
  const { tile: T, uw: UW, xw: XW } = l;
  const KU = fu.taps, KD = fd.taps;
  // Taps per polyphase component; a tap index past the filter is skipped unless up divides the taps.
  const PT = Math.ceil(KU / up);
  const guard = (a: string) => (KU % up ? `if (${a} >= ${KU}) { break; }` : "");
  // Where each stage's result lives: X in A; separable up: H1 in B, Z in A; full up: Z in B.
  const Z = fu.full ? "bufB" : "bufA";
  const D1 = fu.full ? "bufA" : "bufB";
  // Stages loop over 2-D ranges with the 16 x 16 threads (lx, ly): no per-element division.
  const upStages = fu.full
    ? /* wgsl */ `
  for (var u = lx; u < ${UW}; u += 16) {
    let ac = phase(ux0 + u - p.px0);
    let cb = fdiv(ux0 + u + ac - p.px0) - ixMin;
    for (var v = ly; v < ${UW}; v += 16) {
      let ar = phase(uy0 + v - p.py0);
      let rb = fdiv(uy0 + v + ar - p.py0) - iyMin;
      var acc = 0.0;
      for (var ja = 0; ja < ${PT}; ja++) {
        let a = ar + ja * ${up};
        ${guard("a")}
        for (var jb = 0; jb < ${PT}; jb++) {
          let b = ac + jb * ${up};
          ${guard("b")}
          acc += bufA[(rb + ja) * ${XW} + cb + jb] * fu[a * ${KU} + b];
        }
      }
      bufB[v * ${UW} + u] = act(acc);
    }
  }
  workgroupBarrier();`
    : /* wgsl */ `
  for (var u = lx; u < ${UW}; u += 16) {
    let a0 = phase(ux0 + u - p.px0);
    let c0 = fdiv(ux0 + u + a0 - p.px0) - ixMin;
    for (var r = ly; r < ${XW}; r += 16) {
      var acc = 0.0;
      for (var j = 0; j < ${PT}; j++) {
        let a = a0 + j * ${up};
        ${guard("a")}
        acc += bufA[r * ${XW} + c0 + j] * fu[a];
      }
      bufB[r * ${UW} + u] = acc;
    }
  }
  workgroupBarrier();
  for (var v = ly; v < ${UW}; v += 16) {
    let a0 = phase(uy0 + v - p.py0);
    let r0 = fdiv(uy0 + v + a0 - p.py0) - iyMin;
    for (var u = lx; u < ${UW}; u += 16) {
      var acc = 0.0;
      for (var j = 0; j < ${PT}; j++) {
        let a = a0 + j * ${up};
        ${guard("a")}
        acc += bufB[(r0 + j) * ${UW} + u] * fu[a];
      }
      bufA[v * ${UW} + u] = act(acc);
    }
  }
  workgroupBarrier();`;
  const final = (body: string) => /* wgsl */ `
  if (t < ${T * T}) {
    let oyl = t / ${T};
    let oxl = t % ${T};
    var acc = 0.0;
    ${body}
    store(u32(oyl), u32(oxl), acc);
  }`;
  const downStages = fd.full ? fullDown(T, UW, KD, down, Z) : /* wgsl */ `
  for (var v = ly; v < ${UW}; v += 16) {
    for (var o = lx; o < ${T}; o += 16) {
      var acc = 0.0;
      for (var b = 0; b < ${KD}; b++) { acc += ${Z}[v * ${UW} + o * ${down} + b] * fd[b]; }
      ${D1}[v * ${T} + o] = acc;
    }
  }
  workgroupBarrier();` +
    final(`for (var a = 0; a < ${KD}; a++) { acc += ${D1}[(oyl * ${down} + a) * ${T} + oxl] * fd[a]; }`);
  return /* wgsl */ `${f16}
struct P { c: u32, h: i32, w: i32, ho: u32, wo: u32, px0: i32, py0: i32, tilesX: u32,
  gain: f32, slope: f32, clamp: f32, outScale: f32 }
@group(0) @binding(0) var<uniform> p: P;
${chunkedAccess("x", 1, xb.n, xb.elems, xb.type, false)}
@group(0) @binding(${xb.n + 1}) var<storage, read> bias: array<f32>;
@group(0) @binding(${xb.n + 2}) var<storage, read> fu: array<f32>;
@group(0) @binding(${xb.n + 3}) var<storage, read> fd: array<f32>;
${chunkedAccess("y", xb.n + 4, yb.n, yb.elems, yb.type, true)}
var<workgroup> bufA: array<f32, ${l.a}>;
var<workgroup> bufB: array<f32, ${Math.max(1, l.b)}>;
var<private> ybase: u32;
var<private> oy0: u32;
var<private> ox0: u32;

// floor(v / up) and the first tap index a >= 0 with (v + a) divisible by up.
fn fdiv(v: i32) -> i32 { return select(v / ${up}, -((-v + ${up - 1}) / ${up}), v < 0); }
fn phase(v: i32) -> i32 { return fdiv(v + ${up - 1}) * ${up} - v; }
fn act(v: f32) -> f32 {
  let a = select(v * p.slope, v, v >= 0.0) * p.gain;
  return ${clamp ? "clamp(a, -p.clamp, p.clamp)" : "a"};
}
fn store(oyl: u32, oxl: u32, v: f32) {
  let oy = oy0 + oyl;
  let ox = ox0 + oxl;
  if (oy < p.ho && ox < p.wo) { st_y(ybase + oy * p.wo + ox, v * p.outScale); }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = i32(lid.x);
  let lx = t % 16;
  let ly = t / 16;
  let c = wg.y;
  let nl = wg.z;
  oy0 = (wg.x / p.tilesX) * ${T}u;
  ox0 = (wg.x % p.tilesX) * ${T}u;
  ybase = (nl * p.c + c) * p.ho * p.wo;
  let uy0 = i32(oy0 * ${down}u);
  let ux0 = i32(ox0 * ${down}u);
  let iyMin = -fdiv(p.py0 - uy0);
  let ixMin = -fdiv(p.px0 - ux0);
  let xbase = (nl * p.c + c) * u32(p.h * p.w);
  let bc = bias[c];
  for (var r = ly; r < ${XW}; r += 16) {
    let iy = iyMin + r;
    for (var q = lx; q < ${XW}; q += 16) {
      let ix = ixMin + q;
      var v = 0.0;
      if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w) { v = ld_x(xbase + u32(iy * p.w + ix)) + bc; }
      bufA[r * ${XW} + q] = v;
    }
  }
  workgroupBarrier();
${upStages}
${downStages}
}`;
}

/** Output size along one axis: (in * up + pad0 + pad1 - (fu - 1) - (fd - 1) + (down - 1)) // down. */
export function filteredLreluSize(
  size: number,
  up: number,
  down: number,
  pad0: number,
  pad1: number,
  fuTaps: number,
  fdTaps: number,
): number {
  return Math.floor((size * up + pad0 + pad1 - (fuTaps - 1) - (fdTaps - 1) + (down - 1)) / down);
}

/**
 * filtered_lrelu(x [N, C, H, W], fu, fd, b [C], up, down, padding, gain, slope, clamp) with filters from
 * {@link prepareFilter} (fu prepared with gain up^2); returns [N, C, Ho, Wo].
 */
export function filteredLrelu(
  gpu: Gpu,
  x: Tensor,
  bias: Tensor,
  fu: FirFilter,
  fd: FirFilter,
  opts: FilteredLreluOptions,
): Tensor {
  const [n, c, h, w] = x.shape;
  const { up, down } = opts;
  const [px0, px1, py0, py1] = opts.padding;
  const ho = filteredLreluSize(h, up, down, py0, py1, fu.taps, fd.taps);
  const wo = filteredLreluSize(w, up, down, px0, px1, fu.taps, fd.taps);
  if (ho <= 0 || wo <= 0) throw new Error(`filteredLrelu: empty output for input [${x.shape}]`);
  const y = gpu.tensor([n, c, ho, wo], opts.outDtype ?? "f32");
  // The tile (at most 16 x 16, one output per thread) that fits workgroup memory and upsamples the fewest
  // samples in all: small images are cheaper with tiles that divide them.
  const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;
  let l: Layout | null = null, best = Infinity;
  for (let tile = 16; tile >= 1; tile--) {
    if (fd.full && tile % FULL_DOWN_QX) continue;
    const cand = layout(tile, up, down, fu, fd);
    const cost = Math.ceil(wo / tile) * Math.ceil(ho / tile) * cand.uw * cand.uw;
    if ((cand.a + cand.b) * 4 <= limit && cost < best) [l, best] = [cand, cost];
  }
  if (!l) throw new Error("filteredLrelu: filters too large for workgroup memory");
  const tilesX = Math.ceil(wo / l.tile);
  for (const [first, count] of sampleRuns(gpu, n, [x, y])) {
    const xs = chunkRanges(gpu, x, n, first, count), ys = chunkRanges(gpu, y, n, first, count);
    const xb = { n: xs.ranges.length, elems: xs.elems, type: wgslType(x) };
    const yb = { n: ys.ranges.length, elems: ys.elems, type: wgslType(y) };
    gpu.dispatch({
      code: source(l, up, down, fu, fd, xb, yb, enableF16(x, y), opts.clamp !== null),
      uniforms: new Uniforms().u32(c).i32(h).i32(w).u32(ho).u32(wo).i32(px0).i32(py0).u32(tilesX)
        .f32(opts.gain).f32(opts.slope).f32(opts.clamp ?? 0).f32(opts.outScale ?? 1).bytes(),
      bindings: [...xs.ranges, bias, fu.tensor, fd.tensor, ...ys.ranges],
      workgroups: [tilesX * Math.ceil(ho / l.tile), c, count],
    });
  }
  return y;
}

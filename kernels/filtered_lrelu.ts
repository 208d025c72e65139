/**
 * StyleGAN3's filtered leaky ReLU, fused: the semantics of `_filtered_lrelu_ref` (flip_filter=False):
 *
 *   y = x + b[c]
 *   u = upfirdn2d(y, fu, up, padding=[px0, px1, py0, py1], gain=up^2)   (zero-stuff, pad/crop, convolve)
 *   z = clamp(leaky_relu(u, slope) * gain, -clamp, clamp)
 *   out = upfirdn2d(z, fd, down) * outScale                            (convolve, keep every down-th)
 *
 * Filters are separable 1-D (applied along x, then y, as the reference does) or full 2-D (radial).
 * The zero-stuffed image never reaches memory: the up filter is applied polyphase (only the taps that
 * meet non-zero samples). Three algorithms ({@link FilteredLreluVariant}, listed by
 * {@link filteredLreluCandidates}):
 *
 * - "tiled": each workgroup computes one tile x tile output tile of one (sample, channel): it loads the
 *   input patch, upsamples it into workgroup memory, applies the activation there and filters down; the
 *   upsampled image never reaches memory either (best where workgroup memory and barriers are cheap).
 * - "separable" (separable filters): three barrier-free passes through global intermediates, each
 *   invocation streaming along one line with a sliding window of registers so that every sample is loaded
 *   once per line: x-up of whole input rows; y-up + activation + x-down of `rows` upsampled rows at once
 *   (they share their input rows); y-down of whole output columns.
 * - "fulldown" (separable up, full 2-D down): x-up as above; y-up + activation of `rows` rows into the
 *   upsampled image; the 2-D down filter with each invocation computing qy x qx outputs from registers.
 * - "fullstream": as "fulldown", but each invocation of the 2-D down filter streams qx output columns
 *   down the whole image with a window of kd upsampled rows and the kd x kd filter in registers, so that
 *   each upsampled sample and filter tap is loaded once per invocation (best where loads are dear:
 *   llvmpipe pays each load per invocation, at the price of 10-20 multiply-adds).
 * - "fused" (up a multiple of down; either down filter): as "fullstream", with the y-up and the activation
 *   computed inside the streaming down pass from a window of x-upsampled rows, so that the upsampled image
 *   never reaches memory (two passes instead of three); a separable down filter filters each upsampled row
 *   along x as it is made and keeps a window of those rows for the y filter.
 */
import type { Gpu } from "../gpu/device.ts";
import { type DType, numel, type Tensor } from "../gpu/tensor.ts";
import { type BufferDecl, type Param, runProgram } from "../gpu/program.ts";
import { itemRuns, maxChunks } from "../gpu/split.ts";
import { memoized, range } from "./unroll.ts";

/** An FIR filter on the GPU, flipped (so the kernels correlate) and scaled. */
export interface FirFilter {
  /** The flipped, gain-scaled taps: [taps] or [taps, taps] ([1] holding the gain for the identity). */
  tensor: Tensor;
  /** Taps per axis. */
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
  /** Upsampling factor before the activation. */
  up: number;
  /** Downsampling factor after the activation. */
  down: number;
  /** [px0, px1, py0, py1]; negative values crop. */
  padding: [number, number, number, number];
  /** Factor after the leaky ReLU (StyleGAN3: sqrt(2), and 1 in ToRGB). */
  gain: number;
  /** Slope of the leaky ReLU for negative inputs (StyleGAN3: 0.2, and 1, linear, in ToRGB). */
  slope: number;
  /** Clamp bound; null = none. */
  clamp: number | null;
  /** Factor applied to the output (the synthesis network's output_scale on its last layer). */
  outScale?: number;
  /** Element type of the output tensor (default f32). */
  outDtype?: DType;
  /** The algorithm and its parameters (default: the first of {@link filteredLreluCandidates}). */
  variant?: FilteredLreluVariant;
}

/**
 * A configuration of {@link filteredLrelu} (JSON-serialisable): "tiled" with its output tile; the streamed
 * kinds with the upsampled rows per invocation of the y-up pass (a multiple of up) and the workgroup size;
 * "fulldown" also with the qy x qx outputs per invocation of its 2-D down filter, "fullstream", "fused" and
 * "onepass" (the fused pass with the x-up in it: no y-up pass, so no rows) with the qx output columns each
 * invocation streams down.
 */
export type FilteredLreluVariant =
  | { kind: "tiled"; tile: number }
  | { kind: "separable"; rows: number; wg: number }
  | { kind: "fulldown"; rows: number; wg: number; qx: number; qy: number }
  | { kind: "fullstream"; rows: number; wg: number; qx: number }
  | { kind: "fused"; rows: number; wg: number; qx: number }
  | { kind: "onepass"; wg: number; qx: number };

type StreamedVariant = Exclude<FilteredLreluVariant, { kind: "tiled" }>;

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

function tiledSource(
  l: Layout,
  up: number,
  down: number,
  fu: FirFilter,
  fd: FirFilter,
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
  return /* wgsl */ `
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
/** The tile (at most 16 x 16, one output per thread) fitting workgroup memory that upsamples the least. */
function bestTile(gpu: Gpu, ho: number, wo: number, up: number, down: number, fu: FirFilter, fd: FirFilter) {
  let best: Layout | null = null, cost = Infinity;
  for (let tile = 16; tile >= 1; tile--) {
    const l = tiledLayout(gpu, tile, up, down, fu, fd);
    const c = l ? Math.ceil(wo / tile) * Math.ceil(ho / tile) * l.uw * l.uw : Infinity;
    if (c < cost) [best, cost] = [l, c];
  }
  return best;
}

/** The layout of a tile, or null where it does not fit workgroup memory (or the full down filter). */
function tiledLayout(gpu: Gpu, tile: number, up: number, down: number, fu: FirFilter, fd: FirFilter) {
  if (fd.full && tile % FULL_DOWN_QX) return null;
  const l = layout(tile, up, down, fu, fd);
  return (l.a + l.b) * 4 <= gpu.maxWorkgroupStorage ? l : null;
}

const mod = (a: number, m: number) => ((a % m) + m) % m;

/**
 * The up filter's polyphase structure along one axis with low padding pad0: upsampled sample g * up + i
 * is the sum over j < ceil(KU / up) of input g + k[i] + j times tap a[i] + j * up (taps below KU); a
 * window of `span` inputs from g + kmin covers every phase of group g.
 */
interface Poly {
  a: number[];
  k: number[];
  kmin: number;
  span: number;
}

function poly(up: number, pad0: number, taps: number): Poly {
  const a = Array.from({ length: up }, (_, i) => mod(pad0 - i, up));
  const k = a.map((ai, i) => (i + ai - pad0) / up);
  const kmin = Math.min(...k);
  return { a, k, kmin, span: Math.max(...k) - kmin + Math.ceil(taps / up) };
}

/** Phase i's dot product of window values w(l) (l counted from kmin, plus `shift`) with taps f(t). */
function polyDot(
  q: Poly,
  i: number,
  up: number,
  taps: number,
  shift: number,
  w: (l: number) => string,
  f: (t: number) => string,
): string {
  const terms: string[] = [];
  for (let j = 0, t = q.a[i]; t < taps; j++, t += up) {
    terms.push(`${w(shift + q.k[i] - q.kmin + j)} * ${f(t)}`);
  }
  return terms.join(" + ") || "0.0";
}

const act = (clamp: boolean) => /* wgsl */ `
fn act(v: f32) -> f32 {
  let a = select(v * p.slope, v, v >= 0.0) * p.gain;
  return ${clamp ? "clamp(a, -p.clamp, p.clamp)" : "a"};
}`;

/** Input sample ix of row `row` plus the bias, zero outside the image (`ok`: the row is inside). */
const LDX = /* wgsl */ `
fn ldx(row: u32, ok: bool, ix: i32, bc: f32) -> f32 {
  if (ok && ix >= 0 && ix < p.w) { return ld_x(row + u32(ix)) + bc; }
  return 0.0;
}`;

/**
 * Pass 1, x-up: H1[t, u] = the input row t + kmin (plus bias; zero outside the image) upsampled along x,
 * u < steps * up; one invocation streams one row with a window of `span` inputs in registers.
 */
function xUpSource(up: number, taps: number, q: Poly, kminY: number): string {
  const L = q.span;
  return /* wgsl */ `${LDX}

fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.c * p.rows) { return; }
  let ch = gid.x / p.rows;
  let t = gid.x % p.rows;
  let plane = gid.z * p.c + ch;
  let iy = i32(t) + ${kminY};
  let ok = iy >= 0 && iy < p.h;
  let row = plane * u32(p.h * p.w) + u32(select(0, iy, ok) * p.w);
  let bc = bias[ch];
  let ob = (plane * p.rows + t) * p.cols;
${range(taps).map((t) => `  let f${t} = fu[${t}];`).join("\n")}
${range(L).map((l) => `  var w${l} = 0.0;`).join("\n")}
  for (var g = ${1 - L}; g < p.steps; g++) {
    w${L - 1} = ldx(row, ok, g + ${q.kmin + L - 1}, bc);
    if (g >= 0) {
      let o = ob + u32(g) * ${up}u;
${
    range(up).map((i) =>
      `      st_h1(o + ${i}u, ${polyDot(q, i, up, taps, 0, (l) => `w${l}`, (t) => `f${t}`)});`
    ).join("\n")
  }
    }
${range(L - 1).map((l) => `    w${l} = w${l + 1};`).join("\n")}
  }
}`;
}

/**
 * y-up + activation of the `rows` upsampled rows of one invocation at column u: the values z<i>`suffix`,
 * from the H1 column's rows hb + l * p.cols that the group reads.
 */
function yUpColumn(up: number, taps: number, q: Poly, rows: number, u: string, suffix: string): string {
  const ly = rows / up - 1 + q.span;
  const loads = range(ly).map((l) => `let h${l} = ld_h1(hb + ${l}u * p.cols + ${u});`);
  const zs = range(rows).map((i) => {
    const m = Math.floor(i / up), ph = i % up;
    return `z${i}${suffix} = act(${polyDot(q, ph, up, taps, m, (l) => `h${l}`, (t) => `f${t}`)});`;
  });
  return `{\n${[...loads, ...zs].map((s) => `      ${s}`).join("\n")}\n    }`;
}

/** The prologue of the passes after x-up: invocation gid.x is group `gr` of channel `ch`. */
function groupPrologue(rows: number, up: number, taps: number): string {
  return /* wgsl */ `
  if (gid.x >= p.c * p.groups) { return; }
  let ch = gid.x / p.groups;
  let gr = gid.x % p.groups;
  let plane = gid.z * p.c + ch;
  let hb = (plane * p.rows + gr * ${rows / up}u) * p.cols;
${range(taps).map((t) => `  let f${t} = fu[${t}];`).join("\n")}`;
}

/**
 * Pass 2 of "separable": D1[v, o] = x-down of the activated y-up of H1, for the `rows` rows v of a group;
 * one invocation streams along o with a window of KD upsampled samples per row in registers.
 */
function yUpXDownSource(
  up: number,
  taps: number,
  q: Poly,
  rows: number,
  down: number,
  kd: number,
  clamp: boolean,
): string {
  const first = Math.max(0, kd - down);
  const pre = Math.ceil(first / down);
  const vars = range(rows).flatMap((i) => range(kd).map((b) => `  var z${i}_${b} = 0.0;`));
  const fresh = range(kd - first).map((s) =>
    `    ${yUpColumn(up, taps, q, rows, `u32(max(o * ${down} + ${first + s}, 0))`, `_${first + s}`)}`
  );
  const stores = range(rows).map((i) =>
    `      st_d1(db + ${i}u * p.wo + u32(o), ${range(kd).map((b) => `z${i}_${b} * g${b}`).join(" + ")});`
  );
  const shifts = range(rows).flatMap((i) => range(first).map((b) => `    z${i}_${b} = z${i}_${b + down};`));
  return /* wgsl */ `${act(clamp)}

fn main(@builtin(global_invocation_id) gid: vec3u) {${groupPrologue(rows, up, taps)}
${range(kd).map((b) => `  let g${b} = fd[${b}];`).join("\n")}
  let db = (plane * p.groups + gr) * ${rows}u * p.wo;
${vars.join("\n")}
  for (var o = ${-pre}; o < i32(p.wo); o++) {
${fresh.join("\n")}
    if (o >= 0) {
${stores.join("\n")}
    }
${shifts.join("\n")}
  }
}`;
}

/** Pass 3 of "separable": out[oy, ox] = y-down of D1; one invocation streams one column. */
function yDownSource(down: number, kd: number): string {
  const first = Math.max(0, kd - down);
  return /* wgsl */ `
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.c * p.wo) { return; }
  let ch = gid.x / p.wo;
  let ox = gid.x % p.wo;
  let plane = gid.z * p.c + ch;
  let db = plane * p.drows * p.wo + ox;
  let yb = plane * p.ho * p.wo + ox;
${range(kd).map((b) => `  let g${b} = fd[${b}];`).join("\n")}
${range(kd).map((a) => `  var d${a} = 0.0;`).join("\n")}
  for (var oy = ${-Math.ceil(first / down)}; oy < i32(p.ho); oy++) {
${
    range(kd - first).map((s) =>
      `    d${first + s} = ld_d1(db + u32(max(oy * ${down} + ${first + s}, 0)) * p.wo);`
    ).join("\n")
  }
    if (oy >= 0) { st_y(yb + u32(oy) * p.wo, (${
    range(kd).map((a) => `d${a} * g${a}`).join(" + ")
  }) * p.outScale); }
${range(first).map((a) => `    d${a} = d${a + down};`).join("\n")}
  }
}`;
}

/** Pass 2 of "fulldown": Z[v, u] = the activated y-up of H1 for the `rows` rows v of a group, u < p.zw. */
function yUpSource(up: number, taps: number, q: Poly, rows: number, clamp: boolean): string {
  return /* wgsl */ `${act(clamp)}

fn main(@builtin(global_invocation_id) gid: vec3u) {${groupPrologue(rows, up, taps)}
  let zb = (plane * p.groups + gr) * ${rows}u * p.zw;
${range(rows).map((i) => `  var z${i} = 0.0;`).join("\n")}
  for (var u = 0u; u < p.zw; u++) {
    ${yUpColumn(up, taps, q, rows, "u", "")}
${range(rows).map((i) => `    st_z(zb + ${i}u * p.zw + u, z${i});`).join("\n")}
  }
}`;
}

/**
 * Pass 3 of "fulldown": the full 2-D down filter, qy x qx outputs per invocation; each row of Z the block
 * needs is read once into registers and serves every output row it meets.
 */
function down2dSource(down: number, kd: number, qx: number, qy: number): string {
  const r = (qx - 1) * down + kd;
  const zr = (qy - 1) * down + kd;
  const rowsOut = range(qy).map((y) => {
    const macs = range(kd).map((b) =>
      `        { let f = fd[fb + ${b}u]; ${
        range(qx).map((x) => `a${y}_${x} += f * r${x * down + b};`).join(" ")
      } }`
    );
    return `    {
      let fa = i32(zr) - ${y * down};
      if (fa >= 0 && fa < ${kd}) {
        let fb = u32(fa) * ${kd}u;
${macs.join("\n")}
      }
    }`;
  });
  const stores = range(qy).flatMap((y) =>
    range(qx).map((x) =>
      `  if (oy + ${y}u < p.ho && ox + ${x}u < p.wo) { st_y(yb + (oy + ${y}u) * p.wo + ox + ${x}u, a${y}_${x} * p.outScale); }`
    )
  );
  return /* wgsl */ `
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let blocks = p.bx * p.by;
  if (gid.x >= p.c * blocks) { return; }
  let ch = gid.x / blocks;
  let b = gid.x % blocks;
  let oy = (b / p.bx) * ${qy}u;
  let ox = (b % p.bx) * ${qx}u;
  let plane = gid.z * p.c + ch;
  let zb = (plane * p.zrows + oy * ${down}u) * p.zw + ox * ${down}u;
  let yb = plane * p.ho * p.wo;
${range(qy).flatMap((y) => range(qx).map((x) => `  var a${y}_${x} = 0.0;`)).join("\n")}
  for (var zr = 0u; zr < ${zr}u; zr++) {
    let zrow = zb + zr * p.zw;
${range(r).map((l) => `    let r${l} = ld_z(zrow + ${l}u);`).join("\n")}
${rowsOut.join("\n")}
  }
${stores.join("\n")}
}`;
}

/**
 * The streaming 2-D down filter's shared pieces: the kd x kd filter `fd` in registers g<a>_<b>; for output
 * row `yo` the qx outputs from the window z<a>_<l> of kd upsampled rows of r samples; and the window's move
 * by `down` rows (rows a < first take rows a + down).
 */
function filterRegisters(kd: number): string {
  return range(kd).flatMap((a) => range(kd).map((b) => `  let g${a}_${b} = fd[${a * kd + b}u];`)).join("\n");
}

function downOutputs(kd: number, qx: number, down: number): string[] {
  return range(qx).map((x) => {
    const terms = range(kd).flatMap((a) => range(kd).map((b) => `g${a}_${b} * z${a}_${x * down + b}`));
    return `      if (ox + ${x}u < p.wo) { st_y(yo + ${x}u, (${terms.join(" + ")}) * p.outScale); }`;
  });
}

/** The y-down of the separable fused pass: output x of row `yo` from the window d<a>_<x>. */
function separableOutputs(kd: number, qx: number): string[] {
  return range(qx).map((x) =>
    `      if (ox + ${x}u < p.wo) { st_y(yo + ${x}u, (${
      range(kd).map((a) => `d${a}_${x} * g${a}`).join(" + ")
    }) * p.outScale); }`
  );
}

function windowShift(first: number, down: number, r: number, name = "z"): string[] {
  return range(first).flatMap((a) => range(r).map((l) => `    ${name}${a}_${l} = ${name}${a + down}_${l};`));
}

/**
 * Pass 3 of "fullstream": the full 2-D down filter, each invocation streaming qx output columns down the
 * image. The kd x kd filter and a window of kd rows of the (qx - 1) * down + kd samples of Z these columns
 * read stay in registers; each output row loads only its `down` new rows of Z.
 */
function streamDown2dSource(down: number, kd: number, qx: number): string {
  const r = (qx - 1) * down + kd;
  const first = Math.max(0, kd - down);
  const fresh = range(kd - first).flatMap((s) => [
    `    let zr${s} = zb + u32(max(oy * ${down} + ${first + s}, 0)) * p.zw;`,
    ...range(r).map((l) => `    z${first + s}_${l} = ld_z(zr${s} + ${l}u);`),
  ]);
  return /* wgsl */ `
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.c * p.bx) { return; }
  let ch = gid.x / p.bx;
  let ox = (gid.x % p.bx) * ${qx}u;
  let plane = gid.z * p.c + ch;
  let zb = plane * p.zrows * p.zw + ox * ${down}u;
  let yb = plane * p.ho * p.wo + ox;
${filterRegisters(kd)}
${range(kd).flatMap((a) => range(r).map((l) => `  var z${a}_${l} = 0.0;`)).join("\n")}
  for (var oy = ${-Math.ceil(first / down)}; oy < i32(p.ho); oy++) {
${fresh.join("\n")}
    if (oy >= 0) {
      let yo = yb + u32(oy) * p.wo;
${downOutputs(kd, qx, down).join("\n")}
    }
${windowShift(first, down, r).join("\n")}
  }
}`;
}

/**
 * Passes 2 and 3 of "fused" in one (up a multiple of down): the down filter streaming qx output columns
 * down the image as in "fullstream", computing each upsampled row Z[v] it needs from a window of
 * x-upsampled rows H1 in registers (y-up with the activation, polyphase) instead of reading it from memory:
 * Z never reaches memory. Output rows are unrolled by P = up / down, the steps after which the H1 window
 * moves by one row, so that every phase and window offset is a constant. A full 2-D down filter keeps a
 * window z<a>_<l> of kd rows of Z; a separable one filters each fresh Z row along x at once and keeps the
 * window d<a>_<x> of kd x-filtered rows (qx values each), which the y filter then combines: D1 never
 * reaches memory either. With `xup` ("onepass"), each fresh H1 row is x-upsampled here from the input row
 * (xUpSource's sums, over the r / up + span input samples the r columns read) instead of read from H1:
 * one pass, nothing in between reaches memory.
 */
function fusedDownSource(
  up: number,
  taps: number,
  q: Poly,
  down: number,
  kd: number,
  qx: number,
  clamp: boolean,
  full: boolean,
  xup: { q: Poly; kminY: number } | null,
): string {
  const P = up / down, r = (qx - 1) * down + kd;
  const first = Math.max(0, kd - down);
  // Fresh Z row e = t * down + first + s of a period (v = it * up + e) reads H1 rows it + off(e, j).
  const phases = range(P).flatMap((t) =>
    range(kd - first).map((s) => {
      const e = t * down + first + s, ph = e % up;
      const js: number[] = [];
      for (let j = 0, tap = q.a[ph]; tap < taps; j++, tap += up) js.push(j);
      return { t, s, ph, offs: js.map((j) => Math.floor(e / up) + q.k[ph] - q.kmin + j) };
    })
  );
  const all = phases.flatMap((f) => f.offs);
  const lo = Math.min(...all), hw = Math.max(...all) - lo + 1;
  const body: string[] = [];
  body.push(...range(hw - 1).flatMap((d) => range(r).map((l) => `    h${d}_${l} = h${d + 1}_${l};`)));
  if (xup) {
    // H1 row t is input row t + kminY; column l of the window, ox * down + l, is phase l % up of input
    // column (ox * down + l) / up (a whole number of phases: qx * down is a multiple of up).
    const inputs = Math.floor((r - 1) / up) + xup.q.span;
    body.push(
      `    {`,
      `    let iy = it + ${lo + hw - 1 + xup.kminY};`,
      `    let ok = iy >= 0 && iy < p.h;`,
      `    let row = plane * u32(p.h * p.w) + u32(select(0, iy, ok) * p.w);`,
      ...range(inputs).map((m) => `    let x${m} = ldx(row, ok, gx + ${m}, bc);`),
      ...range(r).map((l) =>
        `    h${hw - 1}_${l} = ${
          polyDot(xup.q, l % up, up, taps, Math.floor(l / up), (m) => `x${m}`, (t) => `f${t}`)
        };`
      ),
      `    }`,
    );
  } else {
    body.push(`    let hr = hb + u32(clamp(it + ${lo + hw - 1}, 0, i32(p.rows) - 1)) * p.cols;`);
    body.push(...range(r).map((l) => `    h${hw - 1}_${l} = ld_h1(hr + ${l}u);`));
  }
  for (let t = 0; t < P; t++) {
    body.push(`    {`, `    let oy = it * ${P} + ${t};`);
    for (const f of phases.filter((f) => f.t === t)) {
      const zs = range(r).map((l) => {
        const terms = f.offs.map((o, j) => `h${o - lo}_${l} * f${q.a[f.ph] + j * up}`);
        return `act(${terms.join(" + ") || "0.0"})`;
      });
      if (full) body.push(...zs.map((z, l) => `    z${first + f.s}_${l} = ${z};`));
      else {
        // The fresh row's x-down, in the order of the separable passes' sums.
        body.push(`    {`, ...zs.map((z, l) => `      let u${l} = ${z};`));
        body.push(
          ...range(qx).map((x) =>
            `      d${first + f.s}_${x} = ${range(kd).map((b) => `u${x * down + b} * g${b}`).join(" + ")};`
          ),
        );
        body.push(`    }`);
      }
    }
    body.push(`    if (oy >= 0 && oy < i32(p.ho)) {`, `      let yo = yb + u32(oy) * p.wo;`);
    body.push(...(full ? downOutputs(kd, qx, down) : separableOutputs(kd, qx)), `    }`);
    body.push(...(full ? windowShift(first, down, r) : windowShift(first, down, qx, "d")), `    }`);
  }
  // Enough periods before row 0 to fill the H1 window and the Z window.
  const it0 = -(Math.ceil(Math.ceil(first / down) / P) + hw);
  const source = xup
    ? `  let gx = i32(ox * ${down}u / ${up}u) + ${xup.q.kmin};
  let bc = bias[ch];`
    : `  let hb = plane * p.rows * p.cols + ox * ${down}u;`;
  return /* wgsl */ `${act(clamp)}${xup ? LDX : ""}

fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.c * p.bx) { return; }
  let ch = gid.x / p.bx;
  let ox = (gid.x % p.bx) * ${qx}u;
  let plane = gid.z * p.c + ch;
${source}
  let yb = plane * p.ho * p.wo + ox;
${range(taps).map((t) => `  let f${t} = fu[${t}];`).join("\n")}
${full ? filterRegisters(kd) : range(kd).map((b) => `  let g${b} = fd[${b}];`).join("\n")}
${range(hw).flatMap((d) => range(r).map((l) => `  var h${d}_${l} = 0.0;`)).join("\n")}
${
    range(kd).flatMap((a) => range(full ? r : qx).map((l) => `  var ${full ? "z" : "d"}${a}_${l} = 0.0;`))
      .join("\n")
  }
  for (var it = ${it0}; it * ${P} < i32(p.ho); it++) {
${body.join("\n")}
  }
}`;
}

/** {@link fusedDownSource}, built once per configuration. */
const fusedDown = memoized(fusedDownSource);

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

function outSize(xShape: readonly number[], fu: FirFilter, fd: FirFilter, opts: FilteredLreluOptions) {
  const [, , h, w] = xShape;
  const { up, down } = opts;
  const [px0, px1, py0, py1] = opts.padding;
  const ho = filteredLreluSize(h, up, down, py0, py1, fu.taps, fd.taps);
  const wo = filteredLreluSize(w, up, down, px0, px1, fu.taps, fd.taps);
  if (ho <= 0 || wo <= 0) throw new Error(`filteredLrelu: empty output for input [${xShape}]`);
  return { ho, wo };
}

/**
 * Whether a streamed variant's intermediates each fit one buffer, and every pass can bind its split
 * tensors (gpu/split.ts; x and y counted as f32, at most 2 whole buffers beside them).
 */
function streamable(
  gpu: Gpu,
  xShape: readonly number[],
  yShape: readonly number[],
  fu: FirFilter,
  fd: FirFilter,
  opts: FilteredLreluOptions,
  v: StreamedVariant,
): boolean {
  const { h1Shape, zShape } = streamGeometry(xShape, fu, fd, opts, v);
  // "fused" never makes Z: its last pass reads H1; "onepass" makes neither.
  const middle = v.kind === "onepass" ? [] : v.kind === "fused" ? [h1Shape] : [h1Shape, zShape];
  if (middle.some((shape) => numel(shape) * 4 > gpu.maxBuffer)) return false;
  // itemRuns reads only the tensors' sizes and dtypes.
  const like = (shape: readonly number[]) => ({ size: numel(shape), dtype: "f32" }) as Tensor;
  const chain = [xShape, ...middle, yShape];
  const pairs = chain.slice(1).map((shape, i) => [chain[i], shape]);
  try {
    pairs.forEach((pair) => itemRuns(gpu, xShape[0], pair.map(like), maxChunks(gpu, 2, 2)));
    return true;
  } catch {
    return false;
  }
}

/**
 * The variants of {@link filteredLrelu} valid for input shape xShape [N, C, H, W] and these filters, the
 * best on llvmpipe first: the streaming passes where the filters allow them (separable up), then the
 * tiled kernel with the tile that upsamples the least.
 */
export function filteredLreluCandidates(
  gpu: Gpu,
  xShape: readonly number[],
  fu: FirFilter,
  fd: FirFilter,
  opts: FilteredLreluOptions,
): FilteredLreluVariant[] {
  const [n, c] = xShape;
  const { ho, wo } = outSize(xShape, fu, fd, opts);
  const { up, down } = opts;
  const out: StreamedVariant[] = [];
  if (!fu.full) {
    // Rows per y-up invocation: multiples of up near 8 and 4 (8 shares the most input rows on llvmpipe).
    const [r8, r4] = [8, 4].map((r) => Math.max(1, Math.round(r / up)) * up);
    // The fused pass needs whole phases per output row; its unrolled windows are too much for SwiftShader.
    const fused: StreamedVariant[] = up % down === 0 && !gpu.summary.swiftShader
      ? [8, 16].flatMap((qx): StreamedVariant[] => [
        ...((qx * down) % up ? [] : [{ kind: "onepass", wg: 64, qx } as const]),
        { kind: "fused", rows: r8, wg: 64, qx },
      ])
      : [];
    if (fd.full) {
      const blocks: StreamedVariant[] = [[r8, 8, 2], [r8, 8, 4], [r8, 16, 1], [r4, 8, 1]].map((
        [rows, qx, qy],
      ) => ({ kind: "fulldown", rows, wg: 64, qx, qy }));
      const streams: StreamedVariant[] = [8, 16].map((qx) => ({ kind: "fullstream", rows: r8, wg: 64, qx }));
      // llvmpipe pays every load per invocation: streaming wins there; GPUs keep the blocks in registers.
      out.push(
        ...(gpu.summary.isFallback ? [...fused, ...streams, ...blocks] : [...blocks, ...fused, ...streams]),
      );
    } else {
      const sep = (rows: number, wg: number) => ({ kind: "separable", rows, wg }) as const;
      const passes: StreamedVariant[] = [sep(r8, 64), sep(r8, 32), ...(r4 !== r8 ? [sep(r4, 64)] : [])];
      // The fused passes hold windows of H1 rows and of x-filtered rows in (spilled) registers: on llvmpipe
      // that costs less than the loads and stores of the intermediates (stylegan3-t-128: 241 ms with the
      // separable passes, 150 fused, 96 onepass); GPUs may prefer the three short passes.
      out.push(...(gpu.summary.isFallback ? [...fused, ...passes] : [...passes, ...fused]));
    }
  }
  const fitting: FilteredLreluVariant[] = out.filter((v) =>
    streamable(gpu, xShape, [n, c, ho, wo], fu, fd, opts, v)
  );
  const tiled = bestTile(gpu, ho, wo, up, down, fu, fd);
  if (tiled) fitting.push({ kind: "tiled", tile: tiled.tile });
  if (!fitting.length) throw new Error("filteredLrelu: filters too large for workgroup memory");
  return fitting;
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
  const [n, c] = x.shape;
  const { ho, wo } = outSize(x.shape, fu, fd, opts);
  const y = gpu.tensor([n, c, ho, wo], opts.outDtype ?? "f32");
  const filter = (f: FirFilter) => `${f.taps}${f.full ? "x" + f.taps : ""}`;
  const key = `up${opts.up} down${opts.down} fu${filter(fu)} fd${
    filter(fd)
  } [${x.shape}] ${x.dtype}->${y.dtype}`;
  const { variant: v, tag } = opts.variant
    ? { variant: opts.variant, tag: undefined }
    : gpu.tuner.pick("filtered_lrelu", key, filteredLreluCandidates(gpu, x.shape, fu, fd, opts));
  const call = { gpu, x, bias, fu, fd, opts, y, tag };
  if (v.kind === "tiled") tiled(call, v.tile);
  else streamed(call, v);
  return y;
}

/** One filtered leaky ReLU: its input, bias, filters and options, its output, and its tuning tag. */
interface Call {
  gpu: Gpu;
  x: Tensor;
  bias: Tensor;
  fu: FirFilter;
  fd: FirFilter;
  opts: FilteredLreluOptions;
  y: Tensor;
  tag: string | undefined;
}

/** The name of a launch of `kind` (the pipeline label). */
function kernelName({ opts, fu, fd }: Call, kind: string): string {
  return `filtered_lrelu_up${opts.up}_down${opts.down}${fu.full || fd.full ? "_radial" : ""}_${kind}`;
}

function tiled(call: Call, tile: number): void {
  const { gpu, x, fu, fd, opts, y, tag } = call;
  const [n, c, h, w] = x.shape;
  const [, , ho, wo] = y.shape;
  const { up, down } = opts;
  const l = tiledLayout(gpu, tile, up, down, fu, fd);
  if (!l) throw new Error(`filteredLrelu: tile ${tile} does not fit these filters`);
  const tilesX = Math.ceil(wo / tile);
  const tiles = tilesX * Math.ceil(ho / tile);
  runProgram(gpu, {
    tag,
    name: kernelName(call, "tiled"),
    items: n,
    params: {
      c: ["u32", c],
      h: ["i32", h],
      w: ["i32", w],
      ho: ["u32", ho],
      wo: ["u32", wo],
      px0: ["i32", opts.padding[0]],
      py0: ["i32", opts.padding[2]],
      tilesX: ["u32", tilesX],
      ...activation(opts),
      ...outScale(opts),
    },
    buffers: inputToOutput(call),
    workgroupSize: 256,
    source: tiledSource(l, up, down, fu, fd, opts.clamp !== null),
    workgroups: (count) => [tiles, c, count],
  });
}

/** The activation's parameters (gain, slope, clamp; 0 = none, which the kernel source then skips). */
function activation(opts: FilteredLreluOptions): Record<string, Param> {
  return { gain: ["f32", opts.gain], slope: ["f32", opts.slope], clamp: ["f32", opts.clamp ?? 0] };
}

/**
 * The buffers of a launch that reads the input (through a texture on software adapters) and writes the output:
 * x, bias, the filters, y.
 */
function inputToOutput({ gpu, x, bias, fu, fd, y }: Call): BufferDecl[] {
  return [
    { name: "x", data: x, split: true, texture: gpu.textureReads },
    { name: "bias", data: bias },
    { name: "fu", data: fu.tensor },
    { name: "fd", data: fd.tensor },
    { name: "y", data: y, access: "read_write", split: true },
  ];
}

/** The output factor as a kernel parameter. */
function outScale(opts: FilteredLreluOptions): Record<string, Param> {
  return { outScale: ["f32", opts.outScale ?? 1] };
}

/** The sizes of a streamed variant's passes and intermediates (H1: x-upsampled rows; Z or D1). */
function streamGeometry(
  xShape: readonly number[],
  fu: FirFilter,
  fd: FirFilter,
  opts: FilteredLreluOptions,
  v: StreamedVariant,
) {
  const [n, c] = xShape;
  const { ho, wo } = outSize(xShape, fu, fd, opts);
  const { up, down } = opts;
  // "fused" and "onepass" take either down filter; "separable" a 1-D one, the others a 2-D one.
  const fits = v.kind === "fused" || v.kind === "onepass" || fd.full === (v.kind !== "separable");
  const rows = v.kind === "onepass" ? up : v.rows;
  if (fu.full || !fits || rows % up || (v.kind === "onepass" && (v.qx * down) % up)) {
    throw new Error(`filteredLrelu: variant ${JSON.stringify(v)} does not fit these filters`);
  }
  const full = fd.full;
  const qx = v.kind === "separable" ? 1 : v.qx, qy = v.kind === "fulldown" ? v.qy : 1;
  const bx = Math.ceil(wo / qx), by = Math.ceil(ho / qy);
  // Upsampled columns and rows that the down filter reads (whole blocks for "fulldown").
  const zw = (bx * qx - 1) * down + fd.taps, zh = (by * qy - 1) * down + fd.taps;
  const px = poly(up, opts.padding[0], fu.taps), py = poly(up, opts.padding[2], fu.taps);
  const groups = Math.ceil(zh / rows);
  const steps = Math.ceil(zw / up);
  const h1rows = groups * (rows / up) - 1 + py.span;
  const h1Shape = [n, c, h1rows, steps * up];
  const zShape = [n, c, groups * rows, full ? zw : wo];
  return { rows, qx, qy, bx, by, zw, px, py, groups, steps, h1rows, h1Shape, zShape };
}

/** The "separable" and "fulldown" variants: x-up, then y-up with the activation, then the down filter. */
function streamed(call: Call, v: StreamedVariant): void {
  const { gpu, x, bias, fu, fd, opts, y, tag } = call;
  const [n, c, h, w] = x.shape;
  const [, , ho, wo] = y.shape;
  const { up, down } = opts;
  const ku = fu.taps, kd = fd.taps;
  const { rows, qx, qy, bx, by, zw, px, py, groups, steps, h1rows, h1Shape, zShape } = streamGeometry(
    x.shape,
    fu,
    fd,
    opts,
    v,
  );
  const clamp = opts.clamp !== null;
  const base = { items: n, workgroupSize: v.wg, tag } as const;
  const grid = (invocations: number) => (count: number) => [Math.ceil(invocations / v.wg), 1, count] as const;
  const output: Record<string, Param> = { ho: ["u32", ho], wo: ["u32", wo], bx: ["u32", bx] };
  if (v.kind === "onepass") {
    runProgram(gpu, {
      ...base,
      name: kernelName(call, "onepass"),
      params: {
        c: ["u32", c],
        h: ["i32", h],
        w: ["i32", w],
        ...output,
        ...activation(opts),
        ...outScale(opts),
      },
      buffers: inputToOutput(call),
      source: fusedDown(up, ku, py, down, kd, qx, clamp, fd.full, { q: px, kminY: py.kmin }),
      workgroups: grid(c * bx),
    });
    return;
  }
  const h1 = gpu.tensor(h1Shape);
  // "fused" computes the upsampled rows where it needs them; the other kinds keep them in Z (or D1).
  const z = v.kind === "fused" ? h1 : gpu.tensor(zShape);
  runProgram(gpu, {
    ...base,
    name: kernelName(call, `${v.kind}_xup`),
    params: {
      c: ["u32", c],
      h: ["i32", h],
      w: ["i32", w],
      rows: ["u32", h1rows],
      cols: ["u32", steps * up],
      steps: ["i32", steps],
    },
    buffers: [
      { name: "x", data: x, split: true },
      { name: "bias", data: bias },
      { name: "fu", data: fu.tensor },
      { name: "h1", data: h1, access: "read_write", split: true },
    ],
    source: xUpSource(up, ku, px, py.kmin),
    workgroups: grid(c * h1rows),
  });
  const common: Record<string, Param> = {
    c: ["u32", c],
    rows: ["u32", h1rows],
    cols: ["u32", steps * up],
    groups: ["u32", groups],
  };
  if (v.kind === "separable") {
    runProgram(gpu, {
      ...base,
      name: kernelName(call, `${v.kind}_yup_xdown`),
      params: { ...common, wo: ["u32", wo], ...activation(opts) },
      buffers: [
        { name: "h1", data: h1, split: true, texture: gpu.textureReads },
        { name: "fu", data: fu.tensor },
        { name: "fd", data: fd.tensor },
        { name: "d1", data: z, access: "read_write", split: true },
      ],
      source: yUpXDownSource(up, ku, py, rows, down, kd, clamp),
      workgroups: grid(c * groups),
    });
    runProgram(gpu, {
      ...base,
      name: kernelName(call, `${v.kind}_ydown`),
      params: {
        c: ["u32", c],
        ho: ["u32", ho],
        wo: ["u32", wo],
        drows: ["u32", groups * rows],
        ...outScale(opts),
      },
      buffers: [
        { name: "d1", data: z, split: true, texture: gpu.textureReads },
        { name: "fd", data: fd.tensor },
        { name: "y", data: y, access: "read_write", split: true },
      ],
      source: yDownSource(down, kd),
      workgroups: grid(c * wo),
    });
  } else if (v.kind === "fused") {
    runProgram(gpu, {
      ...base,
      name: kernelName(call, `${v.kind}_down`),
      params: { ...common, ...output, ...activation(opts), ...outScale(opts) },
      buffers: [
        { name: "h1", data: h1, split: true, texture: gpu.textureReads },
        { name: "fu", data: fu.tensor },
        { name: "fd", data: fd.tensor },
        { name: "y", data: y, access: "read_write", split: true },
      ],
      source: fusedDown(up, ku, py, down, kd, qx, clamp, fd.full, null),
      workgroups: grid(c * bx),
    });
  } else {
    runProgram(gpu, {
      ...base,
      name: kernelName(call, `${v.kind}_yup`),
      params: { ...common, zw: ["u32", zw], ...activation(opts) },
      buffers: [
        { name: "h1", data: h1, split: true, texture: gpu.textureReads },
        { name: "fu", data: fu.tensor },
        { name: "z", data: z, access: "read_write", split: true },
      ],
      source: yUpSource(up, ku, py, rows, clamp),
      workgroups: grid(c * groups),
    });
    const stream = v.kind === "fullstream";
    runProgram(gpu, {
      ...base,
      name: kernelName(call, `${v.kind}_down`),
      params: {
        c: ["u32", c],
        ho: ["u32", ho],
        wo: ["u32", wo],
        bx: ["u32", bx],
        by: ["u32", by],
        zrows: ["u32", groups * rows],
        zw: ["u32", zw],
        ...outScale(opts),
      },
      buffers: [
        { name: "z", data: z, split: true, texture: gpu.textureReads },
        { name: "fd", data: fd.tensor },
        { name: "y", data: y, access: "read_write", split: true },
      ],
      source: stream ? streamDown2dSource(down, kd, qx) : down2dSource(down, kd, qx, qy),
      workgroups: grid(c * bx * (stream ? 1 : by)),
    });
  }
  gpu.release(h1, z !== h1 ? z : null);
}

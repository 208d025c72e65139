/**
 * Convolution by Winograd's minimal filtering (Lavin & Gray, 2016), separable: a kh x kw stride-1 kernel runs
 * F(my x mx, kh x kw), the product of the one-dimensional algorithms F(my, kh) along y and F(mx, kw) along x
 * (F(1, 1) on an axis of size 1). F(m, r) computes m outputs of an r-tap correlation from a = m + r - 1 inputs
 * with a multiplies instead of m r. The output is cut into my x mx tiles, each computed from an ay x ax
 * input patch d:
 *
 *   U[n, ab, c, t] = (By^T (s[n, c] d[n, c, t]) Bx)[a, b]
 *   W'[ab, c, o]   = (Gy g[o, c] Gx^T)[a, b]
 *   M[n, ab, o, t] = sum_c W'[ab, c, o] U[n, ab, c, t]         (ay ax matrix products)
 *   Y[n, o, t]     = Ay^T M[n, :, o, t] Ax
 *
 * then the convolutions' epilogue (kernels/conv_epilogue.ts: demodulation, noise, bias, activation, gain,
 * clamp, accumulation). Schemes: 3x3 kernels F(2x3, 3x3) (20 multiplies per input and output channel for 6
 * outputs instead of 54: 3.3 per output, against 4 for F(2x2, 3x3)); 1x7 and 7x1 kernels F(1x2, 1x7) and
 * F(2x1, 7x1) (8 for 2 instead of 14); 1x3 and 3x1 F(1x4, 1x3) and F(4x1, 3x1) (6 for 4 instead of 12). Their
 * float32 errors, simulated over tiles of 6 random channels (values and weights uniform in [-1, 1]; RMS, as
 * test/winograd_test.ts checks): F(2x3, 3x3) 6.1e-7 (F(2x2, 3x3) 3.2e-7), F(1x4, 1x3) 3.7e-7, F(1x2, 1x7)
 * 9.5e-7, the least accurate. The one-dimensional algorithms are made by Toom-Cook interpolation at the
 * points 0, 1, -1, 2, -2, 1/2, -1/2 (as many as needed) and infinity ({@link winograd1d}); F(2, 3) is the
 * classic B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 -1 0 1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 * A^T = [1 1 1 0; 0 1 -1 1]. Three launches: the input transform, the products (each invocation 4V output
 * channels x RN tiles in registers, the tiles loaded as vec4s: the fewest loads per multiply-add, which is
 * what decides speed on llvmpipe; or, on hardware adapters, workgroup-memory tiles, {@link WinogradTile}
 * products), and the output transform with the epilogue. U and M live in one binding each, so the batch runs
 * in chunks of samples that fit ({@link winogradFits}: one sample must). The weight transform is done in
 * float64 on the first launch that needs it ({@link WinogradWeights}).
 *
 * Larger tiles are not offered: F(4x4, 3x3) needs 2.25 multiplies per output instead of 4 (stylegan3-t-128's
 * products took 230 ms instead of 394 on llvmpipe) but is 6-25x less accurate in float32 than F(2x2, 3x3)
 * (largest errors with the points 0, +-1, 2, -1/2 and 0, +-1, +-2; 8x with the best set simulated, 0, +-1,
 * 1/2, -2, see bench/HISTORY.md; RMS 2.1e-6); F(1x3, 1x7), with a ninth point 3, -3, 4 or +-1/4, has 3.7-7x the
 * largest error of F(1x2, 1x7): beyond the tolerances every variant must meet. F(2x4, 3x3) (3 multiplies per
 * output; RMS 8.6e-7, largest error 6.4x F(2x2, 3x3)'s in one simulation) passes the tests' tolerances, but
 * Inception's 3x3 products took 57-63 ms per image against 61-62 with F(2x3, 3x3) (llvmpipe, two alternating
 * profiled passes at batch 4): not worth its error.
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import {
  type ConvLaunch,
  epilogue,
  epilogueBuffers,
  epilogueParams,
  LRELU,
  type Shape,
  tileSums,
} from "./conv_epilogue.ts";
import { linearCombination, memoized, range, shiftedRead } from "./unroll.ts";
import { convTiled } from "./conv_tiled.ts";

/** A one-dimensional algorithm F(m, r): A^T [m, a], G [a, r], B^T [a, a] (a = m + r - 1 points), float64. */
export interface Winograd1d {
  m: number;
  r: number;
  at: number[][];
  g: number[][];
  bt: number[][];
}

/** The finite interpolation points in order of use (infinity is always the last point). */
const POINTS = [0, 1, -1, 2, -2, 0.5, -0.5];

/** The inverse of a square matrix (Gauss-Jordan with partial pivoting, float64). */
function inverse(a: number[][]): number[][] {
  const n = a.length, m = a.map((row, i) => [...row, ...range(n).map((j) => +(i === j))]);
  for (let c = 0; c < n; c++) {
    const p = range(n - c).map((i) => i + c).reduce((b, i) => Math.abs(m[i][c]) > Math.abs(m[b][c]) ? i : b);
    [m[c], m[p]] = [m[p], m[c]];
    const d = m[c][c];
    m[c] = m[c].map((v) => v / d);
    for (let i = 0; i < n; i++) {
      if (i !== c && m[i][c] !== 0) {
        const f = m[i][c];
        m[i] = m[i].map((v, j) => v - f * m[c][j]);
      }
    }
  }
  return m.map((row) => row.slice(n));
}

/** Rows [1, x, ..., x^(k-1)] at the finite points and [0, ..., 0, 1] at infinity (the leading coefficient). */
function evaluation(points: number, k: number): number[][] {
  return range(points).map((j) =>
    j === points - 1 ? range(k).map((i) => +(i === k - 1)) : range(k).map((i) => POINTS[j] ** i)
  );
}

/**
 * F(m, r) by Toom-Cook: the linear convolution h = g * e of an r-tap g and an m-tap e is interpolated from its
 * values at a = m + r - 1 points, h = V^-1 ((V_r g) . (V_m e)) (V_k: the evaluation matrices of polynomials
 * with k coefficients); the correlation y_i = sum_k g_k d_(i+k) is that map's transpose in e, so A^T = V_m^T,
 * G = V_r and B^T = (V^-1)^T. Each point's row of B^T is scaled by a power of two (and its row of G by the
 * inverse) so that its largest entry lies in [1, 2): F(2, 3) comes out as the classic matrices.
 */
export function winograd1d(m: number, r: number): Winograd1d {
  const a = m + r - 1;
  if (a > POINTS.length + 1) {
    throw new Error(`winograd1d: F(${m}, ${r}) needs more than ${POINTS.length + 1} points`);
  }
  const bt = inverse(evaluation(a, a)).map((_, j, inv) => range(a).map((i) => inv[i][j]));
  const g = evaluation(a, r);
  for (let j = 0; j < a; j++) {
    const k = 2 ** -Math.floor(Math.log2(Math.max(...bt[j].map(Math.abs))));
    bt[j] = bt[j].map((v) => v * k);
    g[j] = g[j].map((v) => v / k);
  }
  const vm = evaluation(a, m);
  return { m, r, at: range(m).map((i) => vm.map((row) => row[i])), g, bt };
}

/** Output tiles [my, mx] of each kernel kh x kw that Winograd serves. */
const TILE_FOR: Record<string, [number, number]> = {
  "3x3": [2, 3],
  "1x3": [1, 4],
  "3x1": [4, 1],
  "1x7": [1, 2],
  "7x1": [2, 1],
};

/** The separable algorithm of a kh x kw kernel. */
export interface WinogradScheme {
  y: Winograd1d;
  x: Winograd1d;
  /** Points per patch, ay * ax (the number of matrix products). */
  points: number;
}

const schemes = new Map<string, WinogradScheme | null>();

/** The scheme for a kh x kw stride-1 kernel, or null where Winograd does not apply (1x1, other sizes). */
export function winogradScheme(kh: number, kw: number): WinogradScheme | null {
  const key = `${kh}x${kw}`;
  if (!schemes.has(key)) {
    const tile = TILE_FOR[key];
    const y = tile ? winograd1d(tile[0], kh) : null, x = tile ? winograd1d(tile[1], kw) : null;
    schemes.set(key, y && x ? { y, x, points: y.bt.length * x.bt.length } : null);
  }
  return schemes.get(key)!;
}

/**
 * The weight transform of kh x kw kernels: a function that writes Gy g Gx^T of the kernel g at `w[at...]`
 * (row-major) into `out` (the ay x ax transformed kernel, row-major), in float64, separably (Gy g first, then
 * times Gx^T), without allocating: the transform of a whole network's weights takes well under a second.
 */
function kernelTransform(
  kh: number,
  kw: number,
): (w: ArrayLike<number>, at: number, out: Float64Array) => void {
  const { y, x } = winogradScheme(kh, kw)!;
  const ay = y.g.length, ax = x.g.length;
  const gy = Float64Array.from(y.g.flat()), gx = Float64Array.from(x.g.flat()), t = new Float64Array(ay * kw);
  return (w, at, out) => {
    for (let a = 0; a < ay; a++) {
      for (let j = 0; j < kw; j++) {
        let s = 0;
        for (let i = 0; i < kh; i++) s += gy[a * kh + i] * w[at + i * kw + j];
        t[a * kw + j] = s;
      }
    }
    for (let a = 0; a < ay; a++) {
      for (let b = 0; b < ax; b++) {
        let s = 0;
        for (let j = 0; j < kw; j++) s += t[a * kw + j] * gx[b * kw + j];
        out[a * ax + b] = s;
      }
    }
  };
}

/** Gy g Gx^T of a kh x kw kernel g (row-major), in float64: the ay x ax transformed kernel (row-major). */
export function winogradKernel(g: ArrayLike<number>, kh = 3, kw = 3): Float64Array {
  const out = new Float64Array(winogradScheme(kh, kw)!.points);
  kernelTransform(kh, kw)(g, 0, out);
  return out;
}

/**
 * A weight of `shape` [cout, cin, kh, kw] (row-major) as W'[ab, c, o] ([points * cin, cpad]), output channels
 * padded with zeros to `cpad` (a multiple of 32): {@link winogradKernel} of each kernel, rounded to float32.
 */
export function winogradWeights(w: Float32Array, shape: readonly number[], cpad: number): Float32Array {
  const [cout, cin, kh, kw] = shape;
  const np = winogradScheme(kh, kw)!.points, taps = kh * kw, transform = kernelTransform(kh, kw);
  const packed = new Float32Array(np * cin * cpad), t = new Float64Array(np);
  for (let c = 0; c < cin; c++) {
    for (let o = 0; o < cout; o++) {
      transform(w, (o * cin + c) * taps, t);
      for (let ab = 0; ab < np; ab++) packed[(ab * cin + c) * cpad + o] = t[ab];
    }
  }
  return packed;
}

/**
 * The Winograd transform of a weight on the GPU, made on the first launch that needs it, so that loading a
 * network where Winograd is not chosen (or a stride-2 layer, where it cannot be) pays neither for the transform
 * (~0.1 s per 512 x 512 3x3 layer) nor for its memory.
 */
export class WinogradWeights {
  #made: Tensor | null = null;

  /**
   * For weight `w` [cout, cin, kh, kw] (row-major; kept until the transform is made; kh x kw must have a
   * {@link winogradScheme}), channels padded to cpad.
   */
  constructor(
    readonly w: Float32Array,
    readonly cout: number,
    readonly cin: number,
    readonly cpad: number,
    readonly kh = 3,
    readonly kw = 3,
  ) {}

  /** W' ([points * cin, cpad]), uploaded on first use (before the pending work is submitted). */
  tensor(gpu: Gpu): Tensor {
    const { kh, kw } = this;
    this.#made ??= gpu.upload(winogradWeights(this.w, [this.cout, this.cin, kh, kw], this.cpad), [
      winogradScheme(kh, kw)!.points * this.cin,
      this.cpad,
    ]);
    return this.#made;
  }

  /** Frees the transform if it was made. */
  destroy(): void {
    this.#made?.destroy();
    this.#made = null;
  }
}

/** A tile of the products: 4V output channels x RN output tiles (RN a multiple of 4). */
export interface WinogradTile {
  v: number;
  rn: number;
  wg: number;
  /** Read x, U, the weights and M through textures (gpu/texture.ts). */
  tex?: true;
  /**
   * "tiled": the products as workgroup-memory tiles of 64V output channels x 16RN output tiles
   * (kernels/conv_tiled.ts, each point's product a 1x1 convolution of U with its own W'): every loaded U and
   * W' value serves 16 invocations, as GPUs reward; WG is then 256.
   */
  products?: "tiled";
}

/** Where the tiles of an oh x ow output lie: tiles per row, tiles, and tiles padded to a multiple of RN. */
function tiling(k: WinogradScheme, oh: number, ow: number, t: WinogradTile) {
  const tx = Math.ceil(ow / k.x.m), tiles = Math.ceil(oh / k.y.m) * tx;
  return { tx, tiles, tpad: Math.ceil(tiles / t.rn) * t.rn };
}

/** A convolution's channels, output size and kernel size. */
export interface WinogradGeometry {
  cin: number;
  cout: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
}

/** Invocations of the products' launch for a batch of n (what a tile gives the cores to do). */
export function winogradInvocations(n: number, g: WinogradGeometry, t: WinogradTile): number {
  const k = winogradScheme(g.kh, g.kw)!;
  return n * k.points * Math.ceil(g.cout / (4 * t.v)) * (tiling(k, g.oh, g.ow, t).tpad / t.rn);
}

/** Samples per chunk of the launches: as many as U [points, cin, tiles] and M [points, cout, tiles] allow. */
function chunkSamples(
  gpu: Gpu,
  k: WinogradScheme,
  cin: number,
  cout: number,
  oh: number,
  ow: number,
  t: WinogradTile,
) {
  return Math.floor(gpu.maxBinding / (k.points * Math.max(cin, cout) * tiling(k, oh, ow, t).tpad * 4));
}

/**
 * Whether one sample's U and M each fit one binding (larger batches run in chunks of samples, so the choice
 * does not depend on the batch size).
 */
export function winogradFits(gpu: Gpu, g: WinogradGeometry, t: WinogradTile): boolean {
  return chunkSamples(gpu, winogradScheme(g.kh, g.kw)!, g.cin, g.cout, g.oh, g.ow, t) >= 1;
}

/** The launch's geometry and what it binds besides x, the weights and y. */
export type WinogradLaunch = ConvLaunch<WinogradTile>;

/**
 * Ly X Lx^T of a qy x qx block X (row-major WGSL expressions) for matrices Ly [py, qy] and Lx [px, qx], as
 * `let` statements named `<name>_<i>_<j>` (the py x px result, row-major), along y first.
 */
function sandwich(
  ly: number[][],
  lx: number[][],
  x: string[],
  name: string,
): { code: string[]; out: string[] } {
  const py = ly.length, qy = ly[0].length, px = lx.length, qx = lx[0].length;
  const code: string[] = [];
  for (let i = 0; i < py; i++) {
    for (let j = 0; j < qx; j++) {
      code.push(`let ${name}c${i}_${j} = ${linearCombination(ly[i], range(qy).map((k) => x[k * qx + j]))};`);
    }
  }
  const out = range(py * px).map((e) => `${name}_${Math.floor(e / px)}_${e % px}`);
  for (let e = 0; e < py * px; e++) {
    const i = Math.floor(e / px), j = e % px;
    code.push(`let ${out[e]} = ${linearCombination(lx[j], range(qx).map((k) => `${name}c${i}_${k}`))};`);
  }
  return { code, out };
}

/**
 * The opening of a transform launch (one invocation per sample, channel and quad of tiles, quads fastest):
 * binds q, the channel `ch` of `channels`, nl and n, and returns for samples outside the current chunk.
 */
function transformEntry(ch: string, channels: string): string {
  return `${main1d("item", `p.count * ${channels} * p.quads`)}
  let q = item % p.quads;
  let ${ch} = item / p.quads % ${channels};
  let nl = item / (p.quads * ${channels});
  let n = p.n0 + nl;
  if (n < p.s0 || n >= p.s0 + p.sc) { return; }`;
}

/**
 * The input transform. With `quad` (tile rows of at least 4 values, each sample's input a multiple of 4 values,
 * bound as vec4s), each tile row is read as the vec4s that cover it ({@link shiftedRead}: 2 fetches instead of
 * 4 for 3x3 and 1x3 kernels, 3 instead of 8 for 1x7), else one value at a time; the same values either way.
 */
function inputSource(scale: boolean, kh: number, kw: number, quad: boolean): string {
  const { y, x, points } = winogradScheme(kh, kw)!, ax = x.bt.length, ay = y.bt.length;
  const sc = scale ? " * sc" : "";
  // Four consecutive tiles per invocation, so that U is written with vec4 stores.
  const tiles = range(4).map((k) => {
    const d = range(points).map((e) => `d${k}_${e}`);
    const inside = (i: number, j: number) =>
      `iy${k} + ${i} >= 0 && iy${k} + ${i} < i32(p.h) && ix${k} + ${j} >= 0 && ix${k} + ${j} < i32(p.w)`;
    const loads = quad
      ? range(ay).flatMap((i) => {
        const row = shiftedRead(
          (q) => `ld_x(${q})`,
          `i32(xc) + (iy${k} + ${i}) * i32(p.w) + ix${k}`,
          ax,
          `r${k}_${i}`,
        );
        return [
          ...row.code.map((c) => `  ${c}`),
          ...range(ax).map((j) =>
            `  let d${k}_${i * ax + j} = select(0.0, ${row.value(j)}, ${inside(i, j)})${sc};`
          ),
        ];
      })
      : range(points).map((e) => {
        const i = Math.floor(e / ax), j = e % ax;
        return `  let d${k}_${e} = select(0.0, ld_x(xc + u32(max(iy${k} + ${i}, 0)) * p.w + u32(max(ix${k} + ${j}, 0))), ` +
          `${inside(i, j)})${sc};`;
      });
    const { code, out } = sandwich(y.bt, x.bt, d, `u${k}`);
    return { loads, code: code.map((c) => `  ${c}`), out };
  });
  return /* wgsl */ `
${transformEntry("c", "p.cin")}
  let xc = (nl * p.cin + c) * p.h * p.w;
  ${scale ? "let sc = scale[n * p.cin + c];" : ""}
${
    range(4).map((k) =>
      `  let iy${k} = i32((q * 4u + ${k}u) / p.tx * ${y.m}u) - p.padH;\n  let ix${k} = i32((q * 4u + ${k}u) % p.tx * ${x.m}u) - p.padW;`
    ).join("\n")
  }
${tiles.flatMap((t) => [...t.loads, ...t.code]).join("\n")}
  let ub = ((n - p.s0) * ${points}u * p.cin + c) * p.quads + q;
${
    range(points).map((ab) =>
      `  u4[ub + ${ab}u * p.cin * p.quads] = vec4f(${range(4).map((k) => tiles[k].out[ab]).join(", ")});`
    ).join("\n")
  }
}`;
}

function productSource(t: WinogradTile, points: number): string {
  const V = t.v, Q = t.rn / 4;
  const sums = tileSums(V, t.rn);
  const fmas = range(V).map((v) =>
    range(t.rn).map((j) => `a${v}_${j} = fma(w${v}, vec4f(x${j >> 2}[${j & 3}]), a${v}_${j});`).join(" ")
  );
  // M is written four tiles at a time: a vec4 store costs llvmpipe one loop over the lanes, as a scalar does.
  const stores = range(V).flatMap((v) =>
    range(4).map((e) =>
      `  if (ob * 4u + ${4 * v + e}u < p.cout) {
    let mb = ((n * ${points}u + ab) * p.cout + ob * 4u + ${4 * v + e}u) * (p.tpad / 4u) + g * ${Q}u;
${
        range(Q).map((q) =>
          `    m4[mb + ${q}u] = vec4f(${range(4).map((k) => `a${v}_${4 * q + k}[${e}]`).join(", ")});`
        ).join("\n")
      }
  }`
    )
  );
  return /* wgsl */ `
${main1d("item", `p.count * ${points}u * p.blocks * p.groups`)}
  let g = item % p.groups;
  let ob = item / p.groups % p.blocks * ${V}u;
  let ab = item / (p.groups * p.blocks) % ${points}u;
  let n = item / (p.groups * p.blocks * ${points}u);
  ${sums.declare}
  for (var c = 0u; c < p.cin; c++) {
    let ub = ((n * ${points}u + ab) * p.cin + c) * (p.tpad / 4u) + g * ${Q}u;
${range(Q).map((q) => `    let x${q} = ld_u4(ub + ${q}u);`).join("\n")}
    let wb = (ab * p.cin + c) * p.c4 + ob;
${range(V).map((v) => `    let w${v} = ld_wt(wb + ${v}u);`).join("\n")}
${fmas.map((f) => `    ${f}`).join("\n")}
  }
${stores.join("\n")}
}`;
}

function outputSource(s: Shape): string {
  const { y, x, points } = winogradScheme(s.kh, s.kw)!;
  // Ay^T M Ax of each tile's ay x ax block, my x mx results; four tiles per invocation, so that M is read
  // with vec4 loads.
  const tile = (k: number) => {
    const { code, out } = sandwich(y.at, x.at, range(points).map((e) => `v${e}[${k}]`), `y${k}`);
    const stores = range(y.m * x.m).map((e) => {
      const i = Math.floor(e / x.m), j = e % x.m;
      return `    if (oy + ${i}u < p.oh && ox + ${j}u < p.ow) {
      ${epilogue(s, `${out[e]} * d`, `yb + ${i}u * p.ow + ${j}u`, `(oy + ${i}u) * p.ow + ox + ${j}u`)}
    }`;
    });
    return `  {
    let t = q * 4u + ${k}u;
    let oy = t / p.tx * ${y.m}u;
    let ox = t % p.tx * ${x.m}u;
    let yb = ((nl * p.cTotal + p.cOffset + o) * p.oh + oy) * p.ow + ox;
    if (t < p.tiles) {
${code.map((c) => `    ${c}`).join("\n")}
${stores.join("\n")}
    }
  }`;
  };
  return /* wgsl */ `
${LRELU}
${transformEntry("o", "p.cout")}
  let mb = ((n - p.s0) * ${points}u * p.cout + o) * p.quads + q;
${range(points).map((ab) => `  let v${ab} = ld_m4(mb + ${ab}u * p.cout * p.quads);`).join("\n")}
  let d = ${s.dcoef ? "dcoef[n * p.cout + o]" : "1.0"};
  let b = ${s.bias ? "bias[o]" : "0.0"};
${range(4).map(tile).join("\n")}
}`;
}

/** The three launches' sources, each built once per configuration. */
const launchSources = {
  input: memoized(inputSource),
  product: memoized(productSource),
  output: memoized(outputSource),
};

/** The products' epilogue: none (M is written as summed). */
const RAW: Shape = {
  kh: 1,
  kw: 1,
  stride: 1,
  scale: false,
  dcoef: false,
  bias: false,
  act: "linear",
  clamp: false,
  noise: "none",
  accumulate: false,
};

/**
 * The products of {@link WinogradTile}.products "tiled": M[s, ab] = W'[ab]^T U[s, ab] for the `items` (sample,
 * point) pairs of a chunk, as a 1x1 convolution of U viewed as [items, cin, 1, tpad] into M viewed as [items,
 * cout, 1, tpad], item i using the W' of point i mod points (the same sums, channel by channel, as the
 * register tiles).
 */
function tiledProducts(
  gpu: Gpu,
  l: WinogradLaunch,
  u: Tensor,
  m: Tensor,
  items: number,
  tpad: number,
  tiles: number,
): void {
  const points = winogradScheme(l.shape.kh, l.shape.kw)!.points, t = l.tile;
  convTiled(gpu, {
    x: new Tensor(u.buffer, [items, l.cin, 1, tpad]),
    weight: l.weight,
    weightGroups: points,
    cin: l.cin,
    cout: l.cout,
    stride: 1,
    padH: 0,
    padW: 0,
    oh: 1,
    ow: tpad,
    cTotal: l.cout,
    cOffset: 0,
    out: new Tensor(m.buffer, [items, l.cout, 1, tpad]),
    scale: null,
    dcoef: null,
    bias: null,
    noise: null,
    strength: 0,
    gain: 1,
    clamp: 0,
    shape: RAW,
    tile: { v: t.v, rn: t.rn },
    tag: l.tag,
    label: `winograd_product_${l.shape.kh}x${l.shape.kw}_tiled_v${t.v}_rn${t.rn}`,
    flops: 2 * items * l.cin * l.cout * tiles,
  });
}

/** Runs the three launches of the module doc for x [N, cin, H, W] into `out` (see {@link WinogradLaunch}). */
export function winogradConv(gpu: Gpu, l: WinogradLaunch): void {
  const [n, , h, w] = l.x.shape;
  const { tile, shape: s } = l;
  const k = winogradScheme(s.kh, s.kw)!, np = k.points;
  const { tx, tiles, tpad } = tiling(k, l.oh, l.ow, tile);
  const chunk = Math.min(n, chunkSamples(gpu, k, l.cin, l.cout, l.oh, l.ow, tile));
  if (chunk < 1) throw new Error(`winogradConv: one sample of ${l.oh}x${l.ow} does not fit a binding`);
  const u = gpu.tensor([chunk * np * l.cin * tpad]);
  const mt = gpu.tensor([chunk * np * l.cout * tpad]);
  const blocks = Math.ceil(l.cout / (4 * tile.v)), groups = tpad / tile.rn;
  const u32 = (v: number) => ["u32", v] as const;
  const filler = l.weight, tex = !!tile.tex;
  // Tile rows of 4 or more values read as vec4s where every sample's input holds a multiple of 4 (inputSource).
  const quad = k.x.bt.length >= 4 && (l.cin * h * w) % 4 === 0;
  // Chunks of samples through U and M; the transforms' launches skip the samples of other chunks.
  for (let s0 = 0; s0 < n; s0 += chunk) {
    const sc = Math.min(chunk, n - s0);
    runProgram(gpu, {
      name: `winograd_input_${s.kh}x${s.kw}`,
      items: n,
      params: {
        s0: u32(s0),
        sc: u32(sc),
        cin: u32(l.cin),
        h: u32(h),
        w: u32(w),
        tx: u32(tx),
        quads: u32(tpad / 4),
        padH: ["i32", l.padH],
        padW: ["i32", l.padW],
      },
      buffers: [
        { name: "x", data: l.x, split: true, texture: tex, type: quad ? "vec4" : undefined },
        { name: "scale", data: l.scale ?? filler },
        { name: "u4", data: u, type: "vec4f", access: "read_write" },
      ],
      workgroupSize: 64,
      tag: l.tag,
      source: launchSources.input(s.scale, s.kh, s.kw, quad),
      workgroups: (count) => grid1d(count * l.cin * (tpad / 4), 64, gpu.maxWorkgroups),
    });
    if (tile.products === "tiled") {
      tiledProducts(gpu, l, u, mt, sc * np, tpad, tiles);
    } else {
      runProgram(gpu, {
        name: `winograd_product_${s.kh}x${s.kw}_v${tile.v}_rn${tile.rn}_wg${tile.wg}${tex ? "_tex" : ""}`,
        params: {
          count: u32(sc),
          cin: u32(l.cin),
          cout: u32(l.cout),
          c4: u32(l.weight.shape[1] / 4),
          tpad: u32(tpad),
          blocks: u32(blocks),
          groups: u32(groups),
        },
        buffers: [
          { name: "u4", data: u, type: "vec4f", texture: tex },
          { name: "wt", data: l.weight, type: "vec4f", texture: tex && "constant" },
          { name: "m4", data: mt, type: "vec4f", access: "read_write" },
        ],
        workgroupSize: tile.wg,
        tag: l.tag,
        flops: 2 * sc * np * l.cin * l.cout * tiles,
        source: launchSources.product(tile, np),
        workgroups: grid1d(sc * np * blocks * groups, tile.wg, gpu.maxWorkgroups),
      });
    }
    runProgram(gpu, {
      name: `winograd_output_${s.kh}x${s.kw}${s.accumulate ? "_acc" : ""}`,
      items: n,
      params: {
        s0: u32(s0),
        sc: u32(sc),
        cout: u32(l.cout),
        oh: u32(l.oh),
        ow: u32(l.ow),
        tx: u32(tx),
        tiles: u32(tiles),
        quads: u32(tpad / 4),
        ...epilogueParams(l),
      },
      buffers: [{ name: "m4", data: mt, type: "vec4f", texture: tex }, ...epilogueBuffers(l, filler)],
      workgroupSize: 64,
      tag: l.tag,
      source: launchSources.output(s),
      workgroups: (count) => grid1d(count * l.cout * (tpad / 4), 64, gpu.maxWorkgroups),
    });
  }
  gpu.release(u, mt);
}
